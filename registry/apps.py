from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Catalogue"
    default_auto_field = "django.db.models.BigAutoField"


class RegistryAdminConfig(AdminConfig):
    """The admin with two-factor sign-in for every staff account."""

    default_site = "registry.admin_site.RegistryAdminSite"
