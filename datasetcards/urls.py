from django.urls import path

from datasetcards import views

app_name = "datasetcards"

release = "datasets/<slug:slug>/<str:version>/"

urlpatterns = [
    path("datasets/", views.dataset_list, name="list"),
    path(release, views.release_page, name="release"),
    path(release + "card.json", views.card_json, name="card-json"),
    path(release + "card.jsonld", views.card_jsonld, name="card-jsonld"),
    path(release + "README.md", views.card_readme, name="card-readme"),
    path(release + "card.pdf", views.card_pdf, name="card-pdf"),
    path(release + "card.sig", views.card_sig, name="card-sig"),
    path(release + "rsl.xml", views.rsl, name="rsl"),
]
