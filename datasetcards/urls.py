from django.urls import path, register_converter

from datasetcards import views


class SemVer:
    """Only well-formed versions reach the views (anything else is a plain 404)."""

    regex = r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(SemVer, "semver")

app_name = "datasetcards"

release = "datasets/<slug:slug>/<semver:version>/"

urlpatterns = [
    path("datasets/", views.dataset_list, name="list"),
    path(release, views.release_page, name="release"),
    path(release + "card.json", views.card_json, name="card-json"),
    path(release + "card.jsonld", views.card_jsonld, name="card-jsonld"),
    path(release + "README.md", views.card_readme, name="card-readme"),
    path(release + "card.pdf", views.card_pdf, name="card-pdf"),
    path(release + "card.sig", views.card_sig, name="card-sig"),
    path(release + "rsl.xml", views.rsl, name="rsl"),
    path(release + "errata.json", views.errata_json, name="errata"),
]
