"""IT changes people from the console's users page: role, name and badge, a new password,
deactivate and reactivate, reset a lost second factor. Each change asks first, and each lands
in the audit trail as done by that IT person."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.console.conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)
LIVE = 15_000


def events(user, action):
    from apps.audit.models import AuditEvent

    return list(AuditEvent.objects.filter(object_id=str(user.pk), action=action).order_by("seq"))


def confirm(page, *, cancel: bool = False):
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    expect(dialog.locator("textarea")).to_have_count(0)  # nothing to type that would be recorded nowhere
    dialog.locator("[data-role=cancel]" if cancel else "[data-role=ok]").click()
    expect(dialog).to_have_count(0)


def test_it_changes_deactivates_and_resets_a_person(open_as, it_user, officer):
    officer.mfa_enabled = True
    officer.save(update_fields=["mfa_enabled"])
    page = open_as(it_user, "/users/")
    row = page.locator(f'#users tr[data-user="{officer.pk}"]')
    expect(row).to_be_visible(timeout=LIVE)
    row.locator("[data-edit]").click()
    card = page.locator("#edit-card")
    expect(card.locator("#edit-username")).to_have_text("officer")

    # Role, name and badge: a cancelled confirmation changes nothing.
    card.locator("select[name=role]").select_option("operator")
    card.locator("input[name=full_name]").fill("Dana Reyes-Ortiz")
    card.locator("input[name=badge_number]").fill("9001")
    card.locator("#edit-save").click()
    confirm(page, cancel=True)
    officer.refresh_from_db()
    assert (officer.role, officer.badge_number) == ("officer", "4711") and not events(officer, "user.update")
    card.locator("#edit-save").click()
    confirm(page)
    expect(row).to_contain_text("Dana Reyes-Ortiz", timeout=LIVE)
    expect(row).to_contain_text("Operator")
    officer.refresh_from_db()
    assert (officer.role, officer.full_name, officer.badge_number) == ("operator", "Dana Reyes-Ortiz", "9001")
    [update] = events(officer, "user.update")
    assert update.actor_id == str(it_user.pk)

    # A new password: the old one stops working.
    card.locator("input[name=password]").fill("Brand-new-passphrase-42")
    card.locator("#set-password").click()
    confirm(page)
    expect(page.locator(".notice.ok").first).to_contain_text("new password", timeout=LIVE)
    officer.refresh_from_db()
    assert officer.check_password("Brand-new-passphrase-42") and not officer.check_password("correct-horse-battery")

    # Deactivate, then reactivate.
    card.locator("#toggle-active").click()
    confirm(page)
    expect(row).to_have_attribute("data-active", "no", timeout=LIVE)
    officer.refresh_from_db()
    assert officer.is_active is False
    expect(card.locator("#toggle-active")).to_have_text("Reactivate")
    screenshot(page, "users-deactivated")
    card.locator("#toggle-active").click()
    confirm(page)
    expect(row).to_have_attribute("data-active", "yes", timeout=LIVE)
    officer.refresh_from_db()
    assert officer.is_active is True

    # The lost phone: the second factor is reset.
    card.locator("#reset-mfa").click()
    confirm(page)
    expect(page.locator(".notice.ok").first).to_contain_text("second factor", timeout=LIVE)
    officer.refresh_from_db()
    assert officer.mfa_enabled is False
    [reset] = events(officer, "auth.mfa_reset")
    assert reset.actor_id == str(it_user.pk)
    changes = [e.details for e in events(officer, "user.update")]
    assert len(changes) == 4  # role/name/badge, password, deactivate, reactivate
    assert "Brand-new" not in str(changes)  # the password itself is never in the trail
    assert not page.errors


def test_it_cannot_deactivate_itself_and_is_told_why(open_as, it_user):
    page = open_as(it_user, "/users/")
    row = page.locator(f'#users tr[data-user="{it_user.pk}"]')
    expect(row).to_be_visible(timeout=LIVE)
    row.locator("[data-edit]").click()
    page.locator("#toggle-active").click()
    confirm(page)
    expect(page.locator(".notice.error").first).to_contain_text("cannot deactivate yourself", timeout=LIVE)
    it_user.refresh_from_db()
    assert it_user.is_active is True and not events(it_user, "user.update")
