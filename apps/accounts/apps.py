from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_delete, post_save

        from apps.core.realtime import close_credential_sockets_after_commit

        from .authentication import credentials_changed
        from .models import ApiToken, User

        def changed(sender, **kwargs) -> None:
            credentials_changed()

        def session_ended(sender, request=None, **kwargs) -> None:
            """A console logout (or the API's, on a session) ends the session's open sockets too."""
            key = getattr(getattr(request, "session", None), "session_key", None)
            if key:
                close_credential_sockets_after_commit(key)

        user_logged_out.connect(session_ended, weak=False, dispatch_uid="rtcc-session-sockets")

        for model in (User, ApiToken):
            post_save.connect(changed, sender=model, weak=False, dispatch_uid=f"rtcc-credentials-{model.__name__}")
            post_delete.connect(
                changed, sender=model, weak=False, dispatch_uid=f"rtcc-credentials-del-{model.__name__}"
            )
