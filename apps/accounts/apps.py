from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from .authentication import credentials_changed
        from .models import ApiToken, User

        def changed(sender, **kwargs) -> None:
            credentials_changed()

        for model in (User, ApiToken):
            post_save.connect(changed, sender=model, weak=False, dispatch_uid=f"rtcc-credentials-{model.__name__}")
            post_delete.connect(
                changed, sender=model, weak=False, dispatch_uid=f"rtcc-credentials-del-{model.__name__}"
            )
