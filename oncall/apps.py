from django.apps import AppConfig


class OncallConfig(AppConfig):
    name = "oncall"
    default_auto_field = "django.db.models.BigAutoField"
