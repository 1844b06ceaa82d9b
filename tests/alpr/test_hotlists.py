"""Hotlists and entries: roles, local lists expire, CSV import with rejected lines, atomic replace."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F
from django.utils import timezone

from apps.alpr.models import Entry, Hit, Hotlist
from apps.audit.models import AuditEvent
from tests.alpr.conftest import a_read, post_reads
from tests.conftest import ROLES
from tests.helpers import committing_client, error_code

pytestmark = pytest.mark.django_db


def csv_file(text: str):
    return SimpleUploadedFile("list.csv", text.encode(), content_type="text/csv")


def make_list(api, source="ncic", **fields):
    response = api.post("/api/v1/hotlists", {"name": f"{source} list", "source": source, **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_a_hotlist_as_the_contract_gives_it(client_for, operator):
    api = client_for(operator)
    hotlist = make_list(api)
    assert set(hotlist) >= {"id", "name", "source", "priority", "entry_count", "updated_at"}
    assert hotlist["priority"] == 50 and hotlist["entry_count"] == 0 and hotlist["stale"] is False
    api.post(f"/api/v1/hotlists/{hotlist['id']}/entries", {"plate": "ab 12", "reason": "Stolen"}, format="json")
    [listed] = api.get("/api/v1/hotlists").json()["results"]
    assert listed["entry_count"] == 1
    entries = api.get(f"/api/v1/hotlists/{hotlist['id']}/entries").json()
    assert entries["count"] == 1
    entry = entries["results"][0]
    assert set(entry) >= {
        "id",
        "hotlist",
        "plate",
        "plate_normalized",
        "plate_state",
        "reason",
        "case_number",
        "expires_at",
        "created_by",
    }
    assert entry["plate_normalized"] == "AB12" and entry["created_by"] == str(operator.pk)
    assert AuditEvent.objects.filter(action="hotlist.entry_add", actor_id=str(operator.pk)).exists()


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "x", "source": "fbi"},
        {"name": "x", "source": "ncic", "priority": 101},
        {"name": "x", "source": "ncic", "priority": -1},
        {"source": "ncic"},
        {"name": 12, "source": "ncic"},
    ],
)
def test_bad_hotlists_are_refused(client_for, operator, bad):
    response = client_for(operator).post("/api/v1/hotlists", bad, format="json")
    assert response.status_code == 400 and error_code(response) == "invalid"
    assert Hotlist.objects.count() == 0


@pytest.mark.parametrize("role", ROLES)
def test_hotlists_are_for_operators_and_it(role, personas, client_for):
    api = client_for(personas[role])
    allowed = role in ("operator", "it")
    created = api.post("/api/v1/hotlists", {"name": "L", "source": "state"}, format="json")
    assert created.status_code == (201 if allowed else 403)
    assert api.get("/api/v1/hotlists").status_code == (200 if allowed else 403)
    hotlist = Hotlist.objects.create(name="Other", source="state")
    base = f"/api/v1/hotlists/{hotlist.pk}"
    entry = Entry.objects.create(hotlist=hotlist, plate="Q1", plate_normalized="Q1", plate_folded="01", reason="r")
    assert api.get(f"{base}/entries").status_code == (200 if allowed else 403)
    assert api.get(base).status_code == (200 if allowed else 403)
    assert api.get(f"{base}/entries/{entry.pk}").status_code == (200 if allowed else 403)
    posted = api.post(f"{base}/entries", {"plate": "Z9", "reason": "r"}, format="json")
    assert posted.status_code == (201 if allowed else 403)
    imported = api.post(
        f"{base}/import", {"file": csv_file("plate,plate_state,reason,case_number,expires_at\n")}, format="multipart"
    )
    assert imported.status_code == (200 if allowed else 403)
    assert api.delete(f"{base}/entries/{entry.pk}").status_code == (204 if allowed else 403)


def test_an_entry_the_list_already_holds_is_a_409_and_stores_nothing(client_for, operator):
    api = client_for(operator)
    hotlist = make_list(api)
    url = f"/api/v1/hotlists/{hotlist['id']}/entries"
    entry = {"plate": "ABC-123", "plate_state": "ny", "reason": "Stolen vehicle", "case_number": "2026-001099"}
    first = api.post(url, entry, format="json")
    assert first.status_code == 201, first.content
    again = api.post(url, {**entry, "plate": "abc 123", "plate_state": "NY"}, format="json")  # the same, written apart
    assert again.status_code == 409, again.content
    assert error_code(again) == "already_on_list"
    assert again.json()["error"]["entry"] == first.json()["id"]
    assert Entry.objects.filter(hotlist_id=hotlist["id"]).count() == 1
    # Another reason is another entry; so is the same one again once the first was removed.
    assert api.post(url, {**entry, "reason": "Warrant"}, format="json").status_code == 201
    assert api.delete(f"{url}/{first.json()['id']}").status_code == 204
    assert api.post(url, entry, format="json").status_code == 201
    assert Entry.objects.filter(hotlist_id=hotlist["id"], removed_at__isnull=True).count() == 2


def test_an_error_that_says_more_is_still_what_the_schema_promises(client_for, operator, anon):
    """A 409 naming the entry already on the list (an extra key, as the contract allows) conforms
    to the schema's error envelope: a schema-driven client or contract test accepts it."""
    import jsonschema

    api = client_for(operator)
    hotlist = make_list(api)
    url = f"/api/v1/hotlists/{hotlist['id']}/entries"
    api.post(url, {"plate": "DUP1", "reason": "Stolen vehicle"}, format="json")
    again = api.post(url, {"plate": "DUP1", "reason": "Stolen vehicle"}, format="json")
    assert again.status_code == 409 and "entry" in again.json()["error"]
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    answer = schema["paths"]["/api/v1/hotlists/{hotlist_id}/entries"]["post"]["responses"]["409"]
    ref = answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    jsonschema.validate(again.json(), schema["components"]["schemas"][ref])


@pytest.mark.parametrize(
    "plate",
    ["\u0421\u0412\u0410777", "CBA\uff17\uff17\uff17", "CBA\u0667\u0667\u0667"],
    ids=["cyrillic", "full width", "arabic-indic"],
)
def test_an_entry_written_in_another_script_is_similar_to_the_read_it_looks_like(
    client_for, operator, reader_api, plate
):
    """An entry pasted from a source in the wrong script (Cyrillic letters, Arabic-Indic digits)
    looks exactly like the read "CBA777" and was never hit by it."""
    api = client_for(operator)
    hotlist = make_list(api)
    api.post(f"/api/v1/hotlists/{hotlist['id']}/entries", {"plate": plate, "reason": "Stolen"}, format="json")
    answer = post_reads(reader_api, [a_read(plate="CBA777")])
    assert answer.status_code == 200 and len(answer.json()["hits"]) == 1, answer.content
    assert Hit.objects.get().match in ("similar", "exact")


def test_an_entry_removed_twice_at_once_is_removed_once(client_for, operator):
    """Two removals that both read the entry before either removed it (a double click): the second
    is a 404, and the audit trail holds one removal, not two."""
    from apps.alpr.services import entry_remove
    from apps.audit.models import AuditEvent
    from apps.core.errors import NotFound

    api = client_for(operator)
    hotlist = make_list(api)
    url = f"/api/v1/hotlists/{hotlist['id']}/entries"
    made = api.post(url, {"plate": "RACE1", "reason": "Stolen vehicle"}, format="json").json()
    read_by_both = Entry.objects.get(pk=made["id"])
    assert api.delete(f"{url}/{made['id']}").status_code == 204  # the first
    with pytest.raises(NotFound):
        entry_remove(actor=operator, entry=read_by_both)  # the second, with what it read before
    assert AuditEvent.objects.filter(action="hotlist.entry_remove", object_id=made["id"]).count() == 1


def test_strangers_see_no_hotlists(anon):
    assert anon.get("/api/v1/hotlists").status_code == 401


def test_entries_of_a_local_list_must_expire_within_a_year(client_for, operator):
    api = client_for(operator)
    hotlist = make_list(api, source="local")
    url = f"/api/v1/hotlists/{hotlist['id']}/entries"
    now = timezone.now()
    year_on = now.replace(year=now.year + 1, day=28 if (now.month, now.day) == (2, 29) else now.day)
    for expires in [None, now - timedelta(minutes=1), now + timedelta(days=400), year_on + timedelta(minutes=1)]:
        body = {"plate": "LOC1", "reason": "BOLO", **({"expires_at": expires.isoformat()} if expires else {})}
        response = api.post(url, body, format="json")
        assert response.status_code == 400, response.content
        assert "expires_at" in response.json()["error"]["fields"]
    for days_on in (timedelta(days=7), year_on - now - timedelta(minutes=1)):
        good = api.post(url, {"plate": "LOC1", "reason": "BOLO", "expires_at": (now + days_on).isoformat()})
        assert good.status_code == 201, good.content
    assert Entry.objects.count() == 2


@pytest.mark.parametrize(
    "bad",
    [
        {"plate": "--", "reason": "r"},
        {"plate": "AB1"},
        {"plate": "AB1", "reason": "r", "plate_state": "XYZ"},
        {"plate": "AB1", "reason": "r", "expires_at": "2031-01-01T00:00:00"},  # no zone: never guessed
        {"plate": "AB1", "reason": "r", "expires_at": "9999-12-31T23:00:00-05:00"},  # year 10000 in UTC
    ],
)
def test_bad_entries_are_refused(client_for, operator, bad):
    api = client_for(operator)
    hotlist = make_list(api)
    response = api.post(f"/api/v1/hotlists/{hotlist['id']}/entries", bad, format="json")
    assert response.status_code == 400
    assert Entry.objects.count() == 0


def test_an_import_refuses_a_line_whose_expiry_no_calendar_holds(client_for, operator):
    api = client_for(operator)
    hotlist = make_list(api)  # a state list: its entries need not expire within a year
    text = (
        "plate,plate_state,reason,case_number,expires_at\n"
        "GOOD001,CA,Stolen,24-1,2040-01-01T00:00:00Z\n"
        "FAR0001,CA,Stolen,24-2,9999-12-31T23:00:00-05:00\n"  # year 10000 in UTC
    )
    response = api.post(f"/api/v1/hotlists/{hotlist['id']}/import", {"file": csv_file(text)}, format="multipart")
    assert response.status_code == 200, response.content
    assert response.json()["imported"] == 1
    assert [(r["line"], r["error"][:11]) for r in response.json()["rejected"]] == [(3, "expires_at:")]
    assert list(Entry.objects.values_list("plate_normalized", flat=True)) == ["GOOD001"]


def test_unknown_lists_and_entries_are_404(client_for, operator):
    api = client_for(operator)
    assert api.get("/api/v1/hotlists/6f1b1d3a-0000-4000-8000-000000000000/entries").status_code == 404
    hotlist = make_list(api)
    gone = api.delete(f"/api/v1/hotlists/{hotlist['id']}/entries/6f1b1d3a-0000-4000-8000-000000000000")
    assert gone.status_code == 404


def test_csv_import_reports_each_rejected_line(client_for, operator):
    api = client_for(operator)
    hotlist = make_list(api, source="local")
    later = (timezone.now() + timedelta(days=30)).isoformat()
    text = (
        "plate,plate_state,reason,case_number,expires_at\n"
        f"GOOD001,CA,Stolen,24-1,{later}\n"
        "NOEXP01,CA,Stolen,24-2,\n"  # local without expiry
        f"--,CA,Stolen,24-3,{later}\n"  # no plate
        f"GOOD002,,Warrant,,{later}\n"
        f"BADTIME,CA,Stolen,24-4,tomorrow\n"
        f"BADST01,California,Stolen,24-5,{later}\n"
        f"good-001,ca,Stolen,24-1,{later}\n"  # line 2 again, written otherwise
        f"GOOD001,CA,Stolen,24-9,{later}\n"  # the same plate for another case: its own entry
    )
    response = api.post(f"/api/v1/hotlists/{hotlist['id']}/import", {"file": csv_file(text)}, format="multipart")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["imported"] == 3
    assert [r["line"] for r in body["rejected"]] == [3, 4, 6, 7, 8]
    assert "expires_at" in body["rejected"][0]["error"]
    assert body["rejected"][4]["error"] == "the same entry as line 2"
    plates = sorted(Entry.objects.values_list("plate_normalized", flat=True))
    assert plates == ["GOOD001", "GOOD001", "GOOD002"]
    assert api.get(f"/api/v1/hotlists/{hotlist['id']}").json()["last_import_at"] is not None


def test_a_quote_left_open_rejects_its_line_and_loses_none_after_it(client_for, operator):
    """`"armed,C2,` on line 3 read on into lines 4 and 5 as one field: QA3 and QA4 were lost from a
    replace without a word, and QA2 stored with the three lines as its reason."""
    api = client_for(operator)
    hotlist = make_list(api)
    text = (
        "plate,plate_state,reason,case_number,expires_at\r\n"
        "QA1,NY,stolen,C1,\r\n"
        'QA2,NY,"armed,C2,\r\n'
        "QA3,NY,stolen,C3,\r\n"
        'QA4,NY,"wanted",C4,\r\n'
        "QA5,NY,stolen,C5,\r\n"
    )
    response = api.post(
        f"/api/v1/hotlists/{hotlist['id']}/import", {"file": csv_file(text), "mode": "replace"}, format="multipart"
    )
    assert response.status_code == 200, response.content
    assert response.json()["imported"] == 4
    assert [r["line"] for r in response.json()["rejected"]] == [3]
    assert "not CSV" in response.json()["rejected"][0]["error"]
    assert sorted(Entry.objects.values_list("plate_normalized", "reason")) == [
        ("QA1", "stolen"),
        ("QA3", "stolen"),
        ("QA4", "wanted"),
        ("QA5", "stolen"),
    ]


def test_a_line_with_more_fields_than_the_header_is_rejected_not_shifted(client_for, operator):
    """`X1,NY,armed, dangerous,,`: the unquoted comma made "dangerous" the case number and the last
    field was dropped without a word. Empty cells past the header (a spreadsheet's) are nothing."""
    api = client_for(operator)
    hotlist = make_list(api)
    text = (
        "plate,plate_state,reason,case_number,expires_at\n"
        "SHIFT1,NY,armed, dangerous,C-1,\n"
        "MANY1,NY,r,,,extra\n"
        "WIDE1,NY,stolen,C-2,,,\n"
        'QUOTED1,NY,"armed, dangerous",C-3,\n'
    )
    response = api.post(f"/api/v1/hotlists/{hotlist['id']}/import", {"file": csv_file(text)}, format="multipart")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["imported"] == 2
    assert [r["line"] for r in body["rejected"]] == [2, 3]
    assert "expires_at" in body["rejected"][0]["error"]  # "C-1" where the expiry belongs
    assert "quote a field that holds a comma" in body["rejected"][1]["error"]
    assert sorted(Entry.objects.values_list("plate_normalized", "reason", "case_number")) == [
        ("QUOTED1", "armed, dangerous", "C-3"),
        ("WIDE1", "stolen", "C-2"),
    ]


def test_a_quoted_reason_over_two_lines_is_one_entry_as_csv_allows(client_for, operator):
    api = client_for(operator)
    hotlist = make_list(api)
    text = 'plate,plate_state,reason,case_number,expires_at\nABC1,NY,"Armed\nsuspect, see case",C2,\nXYZ2,NY,Stolen,,\n'
    response = api.post(f"/api/v1/hotlists/{hotlist['id']}/import", {"file": csv_file(text)}, format="multipart")
    assert response.json() == {"imported": 2, "rejected": []}
    assert sorted(Entry.objects.values_list("plate_normalized", "reason")) == [
        ("ABC1", "Armed\nsuspect, see case"),
        ("XYZ2", "Stolen"),
    ]


def test_an_import_line_with_a_nul_character_is_rejected_not_stored(client_for, operator):
    api = client_for(operator)
    hotlist = make_list(api)
    text = "plate,plate_state,reason,case_number,expires_at\nNUL0001,,Stol\x00en,,\nGOOD001,,Stolen,,\n"
    response = api.post(f"/api/v1/hotlists/{hotlist['id']}/import", {"file": csv_file(text)}, format="multipart")
    assert response.status_code == 200, response.content
    assert response.json()["imported"] == 1
    assert response.json()["rejected"] == [{"line": 2, "error": "must not contain a NUL character (\\u0000)"}]
    assert list(Entry.objects.values_list("plate_normalized", flat=True)) == ["GOOD001"]


def test_appending_the_same_file_twice_keeps_each_entry_once_and_a_read_hits_once(client_for, operator, reader_api):
    api = client_for(operator)
    hotlist = make_list(api, source="local")
    later = (timezone.now() + timedelta(days=30)).isoformat()
    text = f"plate,plate_state,reason,case_number,expires_at\nABC123,NY,Stolen vehicle,2026-001099,{later}\n"
    url = f"/api/v1/hotlists/{hotlist['id']}/import"
    assert api.post(url, {"file": csv_file(text)}, format="multipart").json() == {"imported": 1, "rejected": []}
    again = text + f"ABC123,NY,Stolen vehicle,2026-001100,{later}\n"  # another case: its own entry
    body = api.post(url, {"file": csv_file(again)}, format="multipart").json()
    assert body == {"imported": 1, "rejected": [{"line": 2, "error": "the same entry is already on the list"}]}
    assert Entry.objects.filter(hotlist_id=hotlist["id"]).count() == 2
    hits = post_reads(reader_api, [a_read("ABC123", plate_state="NY")]).json()["hits"]
    assert len(hits) == 2  # one per case, never two for one entry


def test_replace_swaps_the_whole_list(client_for, operator, reader_api):
    api = client_for(operator)
    hotlist = make_list(api)
    url = f"/api/v1/hotlists/{hotlist['id']}/import"
    header = "plate,plate_state,reason,case_number,expires_at\n"
    api.post(url, {"file": csv_file(header + "OLD0001,,Stolen,,\nKEEP001,,Stolen,,\n")}, format="multipart")
    response = api.post(
        url,
        {"file": csv_file(header + "KEEP001,,Stolen,,\nNEW0001,,Stolen,,\n"), "mode": "replace"},
        format="multipart",
    )
    assert response.json() == {"imported": 2, "rejected": []}
    live = sorted(e["plate_normalized"] for e in api.get(f"/api/v1/hotlists/{hotlist['id']}/entries").json()["results"])
    assert live == ["KEEP001", "NEW0001"]
    hits = post_reads(reader_api, [a_read("OLD0001"), a_read("NEW0001")]).json()["hits"]
    assert len(hits) == 1


def test_a_replace_with_a_bad_file_changes_nothing(client_for, operator):
    api = client_for(operator)
    hotlist = make_list(api)
    url = f"/api/v1/hotlists/{hotlist['id']}/import"
    api.post(
        url,
        {"file": csv_file("plate,plate_state,reason,case_number,expires_at\nOLD0001,,Stolen,,\n")},
        format="multipart",
    )
    for bad in ["plate,reason\nX,Y\n", "", "\xff\xfe"]:
        response = api.post(
            url, {"file": csv_file(bad) if bad else csv_file(" "), "mode": "replace"}, format="multipart"
        )
        assert response.status_code == 400, (bad, response.content)
    assert api.post(url, {"file": csv_file("a"), "mode": "merge"}, format="multipart").status_code == 400
    # an export none of whose lines is usable never swaps a live list for nothing
    header = "plate,plate_state,reason,case_number,expires_at\n"
    unusable = csv_file(header + "--,,Stolen,,\nABC123,,,,\n")
    response = api.post(url, {"file": unusable, "mode": "replace"}, format="multipart")
    assert response.status_code == 400 and error_code(response) == "nothing_imported"
    assert [r["line"] for r in response.json()["error"]["rejected"]] == [2, 3]
    assert list(Entry.objects.filter(removed_at__isnull=True).values_list("plate_normalized", flat=True)) == ["OLD0001"]
    # lines of empty cells (",,,,", a spreadsheet's export of blank rows) are not the header-only
    # file: the list was emptied with {"imported": 0, "rejected": []}
    separators = api.post(url, {"file": csv_file(header + ",,,,\n , , , , \n"), "mode": "replace"}, format="multipart")
    assert separators.status_code == 400 and error_code(separators) == "nothing_imported"
    assert [r["line"] for r in separators.json()["error"]["rejected"]] == [2, 3]
    assert Entry.objects.filter(removed_at__isnull=True).count() == 1
    appended = api.post(url, {"file": csv_file(header + "--,,Stolen,,\n")}, format="multipart")
    assert appended.status_code == 200 and appended.json()["imported"] == 0  # append: nothing to swap
    # a file with only its header empties the list on purpose
    emptied = api.post(url, {"file": csv_file(header), "mode": "replace"}, format="multipart")
    assert emptied.status_code == 200 and emptied.json() == {"imported": 0, "rejected": []}
    assert not Entry.objects.filter(removed_at__isnull=True).exists()


def test_a_list_not_imported_for_a_day_is_stale(client_for, operator):
    api = client_for(operator)
    hotlist = make_list(api)
    api.post(
        f"/api/v1/hotlists/{hotlist['id']}/import",
        {"file": csv_file("plate,plate_state,reason,case_number,expires_at\nA1,,r,,\n")},
        format="multipart",
    )
    assert api.get(f"/api/v1/hotlists/{hotlist['id']}").json()["stale"] is False
    Hotlist.objects.filter(pk=hotlist["id"]).update(last_import_at=timezone.now() - timedelta(hours=25))
    assert api.get(f"/api/v1/hotlists/{hotlist['id']}").json()["stale"] is True


def test_an_imported_entry_finds_earlier_reads(client_for, operator, reader_api):
    post_reads(reader_api, [a_read("PAST001")])
    api = client_for(operator)
    hotlist = make_list(api)
    api.post(
        f"/api/v1/hotlists/{hotlist['id']}/import",
        {"file": csv_file("plate,plate_state,reason,case_number,expires_at\nPAST001,,Stolen,,\n")},
        format="multipart",
    )
    [hit] = api.get("/api/v1/hits").json()["results"]
    assert hit["historical"] is True and hit["match"] == "exact"


def test_a_state_sized_list_imports_in_one_file(client_for, operator):
    """A CSV of 60,000 plates (1.2 MB), over the general 1 MiB body limit: imported whole (a state's
    list of a million plates is about 40 MB; the import takes up to RTCC_ALPR_MAX_IMPORT_BYTES)."""
    api = client_for(operator)
    hotlist = make_list(api)
    lines = "".join(f"S{n:06d},CA,Stolen,,\n" for n in range(60_000))
    text = "plate,plate_state,reason,case_number,expires_at\n" + lines
    assert len(text) > 1024 * 1024
    response = api.post(f"/api/v1/hotlists/{hotlist['id']}/import", {"file": csv_file(text)}, format="multipart")
    assert response.status_code == 200, response.content[:300]
    assert response.json() == {"imported": 60_000, "rejected": []}
    assert Entry.objects.filter(hotlist_id=hotlist["id"], removed_at__isnull=True).count() == 60_000


def test_a_plate_keeps_letters_of_every_script(client_for, operator, reader_api):
    """A letter outside A-Z is a letter: dropping it made "ÖKW747" the plate "KW747", and any read
    of KW747 an "exact" hit. Full-width characters are the letters and digits they stand for."""
    api = client_for(operator)
    hotlist = make_list(api)
    entry = api.post(
        f"/api/v1/hotlists/{hotlist['id']}/entries", {"plate": "ÖKW 747", "reason": "Stolen"}, format="json"
    )
    assert entry.status_code == 201 and entry.json()["plate_normalized"] == "ÖKW747"
    wide = "\uff21\uff22\uff23\uff11\uff12\uff13"  # ABC123 in full-width letters and digits
    url = f"/api/v1/hotlists/{hotlist['id']}/entries"
    fullwidth = api.post(url, {"plate": wide, "reason": "Stolen"}, format="json")
    assert fullwidth.status_code == 201 and fullwidth.json()["plate_normalized"] == "ABC123"
    answer = post_reads(reader_api, [a_read("KW747"), a_read("ökw-747"), a_read("abc123")]).json()
    hits = [api.get(f"/api/v1/hits/{h}").json() for h in answer["hits"]]
    assert sorted((h["read"]["plate_normalized"], h["match"]) for h in hits) == [
        ("ABC123", "exact"),
        ("ÖKW747", "exact"),
    ]


def test_the_nightly_replace_raises_no_second_hit_for_a_read_already_hit(client_for, operator, reader_api):
    """A state list is replaced every night with mostly the same plates: each replace makes new
    entries. A read that already hit the plate on that list (reviewed or not) is not raised again."""
    api = client_for(operator)
    hotlist = make_list(api, source="state")
    url = f"/api/v1/hotlists/{hotlist['id']}/import"
    nightly = "plate,plate_state,reason,case_number,expires_at\nSAME001,NY,Stolen,,\nGONE001,,Stolen,,\n"
    api.post(url, {"file": csv_file(nightly)}, format="multipart")
    [first, gone] = post_reads(reader_api, [a_read("SAME001", plate_state="NY"), a_read("GONE001")]).json()["hits"]
    assert api.post(f"/api/v1/hits/{gone}/reject", {"reason": "misread"}, format="json").status_code == 200
    for _night in range(2):
        assert api.post(url, {"file": csv_file(nightly), "mode": "replace"}, format="multipart").status_code == 200
    assert sorted(h["id"] for h in api.get("/api/v1/hits?state=new").json()["results"]) == [first]
    assert api.get("/api/v1/hits?state=rejected").json()["count"] == 1
    # a read of the plate after the replace hits the new entry, as any read does
    [later] = post_reads(reader_api, [a_read("SAME001", plate_state="NY")]).json()["hits"]
    assert later != first
    # and an earlier read that a new list (another list) names is still found
    other = make_list(api, source="local")
    expires = (timezone.now() + timedelta(days=30)).isoformat()
    api.post(
        f"/api/v1/hotlists/{other['id']}/entries",
        {"plate": "SAME001", "reason": "BOLO", "expires_at": expires},
        format="json",
    )
    assert Hit.objects.filter(hotlist_id=other["id"], historical=True).count() == 2  # both reads of SAME001


def test_a_read_stored_while_an_import_is_written_is_hit(transactional_db, postgres_db, client_for, operator, reader):
    """On PostgreSQL a read batch is matched against the lists, then stored; an import of the
    read's plate commits in between. The import's look-back waits for the batch, so the read is
    hit (it was matched against the list before the import, and stored after the import had
    looked back: nobody matched it, and the stolen car was never flagged)."""
    import threading

    from django.db import connection, transaction

    from apps.counters.models import Count
    from tests.helpers import committing_client, wait_for

    api = client_for(operator)
    hotlist = make_list(api)
    readers = committing_client(token=reader.token)
    assert post_reads(readers, [a_read("WARM001")]).status_code == 200  # today's counters exist
    held, release = threading.Event(), threading.Event()

    def hold_counters() -> None:  # the batch stops once stored, before its commit: at its counters
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {Count._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
                held.set()
                release.wait(60)
        finally:
            connection.close()

    answers: dict = {}

    def post_read() -> None:
        try:
            answers["read"] = post_reads(committing_client(token=reader.token), [a_read("NEW111")]).status_code
        finally:
            connection.close()

    def import_plate() -> None:
        try:
            text = "plate,plate_state,reason,case_number,expires_at\nNEW111,,Stolen,24-9,\n"
            answers["import"] = api.post(
                f"/api/v1/hotlists/{hotlist['id']}/import", {"file": csv_file(text)}, format="multipart"
            ).status_code
        finally:
            connection.close()

    def waiting(locktype: str) -> int:
        """Waits of this database's sessions: for the counters table (the batch), for an advisory
        lock (the import's look-back)."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = %s"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                [locktype],
            )
            return cursor.fetchone()[0]

    holder = threading.Thread(target=hold_counters)
    holder.start()
    assert held.wait(30)
    batch = threading.Thread(target=post_read)
    batch.start()
    assert wait_for(lambda: waiting("relation"), lambda n: n >= 1) >= 1  # matched and stored, not committed
    importer = threading.Thread(target=import_plate)
    importer.start()
    wait_for(lambda: (waiting("advisory"), importer.is_alive()), lambda w: w[0] >= 1 or not w[1], timeout=10)
    release.set()
    for thread in (holder, batch, importer):
        thread.join(60)
    assert answers == {"read": 200, "import": 200}
    hits = Hit.objects.filter(read__plate_normalized="NEW111")
    assert hits.count() == 1


def test_postgres_an_import_looks_back_at_the_reads_in_one_statement(
    postgres_db, client_for, operator, reader, monkeypatch
):
    # The look-back holds the lock every reader's batch waits for. Asked a chunk of entries at a
    # time, each ask scanned every day partition: a nightly list of 50,000 kept the readers waiting
    # 78 s over 3 million reads. One statement reads them once (or probes their indexes).
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.alpr import services

    monkeypatch.setattr(services, "HISTORICAL_CHUNK", 2)
    post_reads(committing_client(token=reader.token), [a_read("OLD0003"), a_read("0LD0004")])  # 0LD: similar
    api = client_for(operator)
    hotlist = make_list(api)
    text = "plate,plate_state,reason,case_number,expires_at\n" + "".join(
        f"OLD000{i},,Stolen,24-{i},\n" for i in range(1, 6)
    )
    with CaptureQueriesContext(connection) as queries:
        response = api.post(f"/api/v1/hotlists/{hotlist['id']}/import", {"file": csv_file(text)}, format="multipart")
    assert response.status_code == 200 and response.json()["imported"] == 5, response.content
    looks = [q["sql"] for q in queries.captured_queries if "FROM alpr_read" in q["sql"].replace('"', "")]
    assert len([sql for sql in looks if "plate_folded" in sql]) == 1, looks
    assert sorted(Hit.objects.values_list("read__plate_normalized", "match")) == [
        ("0LD0004", "similar"),
        ("OLD0003", "exact"),
    ]


def test_the_upgrade_folds_again_the_entries_written_in_another_script_and_only_those(client_for, operator):
    """Migration 0003 folds again the entries a release before it stored with their foreign letters
    unfolded (never similar to the read they look like); the database picks them, so that the
    upgrade does not read every entry of a year of replaced lists into Python."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("apps.alpr.migrations.0003_fold_other_scripts")
    api = client_for(operator)
    hotlist = make_list(api)
    url = f"/api/v1/hotlists/{hotlist['id']}/entries"
    for plate in ("\u0421\u0412\u0410777", "CBA\u0667\u0667\u0667", "CBA777"):
        assert api.post(url, {"plate": plate, "reason": "Stolen"}, format="json").status_code == 201
    Entry.objects.exclude(plate_normalized="CBA777").update(plate_folded=F("plate_normalized"))  # as stored then
    Entry.objects.filter(plate_normalized="CBA777").update(plate_folded="KEPT")  # an ASCII plate is not read
    migration.refold(apps, None)
    assert sorted(Entry.objects.values_list("plate_folded", flat=True)) == ["C8A777", "C8A777", "KEPT"]
