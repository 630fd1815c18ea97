from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Catalogue"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the deploy check that every PDF font is installed.
        from registry import pdf  # noqa: F401


class RegistryAdminConfig(AdminConfig):
    """The admin with two-factor sign-in for every staff account."""

    default_site = "registry.admin_site.RegistryAdminSite"
