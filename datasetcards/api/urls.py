from django.urls import path

from datasetcards.api import manifests, views

release = "releases/<uuid:release_id>/"

urlpatterns = [
    path("datasets/", views.LicensedDatasets.as_view(), name="datasets"),
    path("datasets/<uuid:dataset_id>/", views.LicensedDataset.as_view(), name="dataset"),
    path("releases/", views.LicensedReleases.as_view(), name="releases"),
    path(release, views.LicensedRelease.as_view(), name="release"),
    path(release + "card.json", views.ReleaseCardJson.as_view(), name="release-card-json"),
    path(release + "card.jsonld", views.ReleaseCardJsonLd.as_view(), name="release-card-jsonld"),
    path(release + "README.md", views.ReleaseReadme.as_view(), name="release-readme"),
    path(release + "card.pdf", views.ReleaseCardPdf.as_view(), name="release-card-pdf"),
    path(release + "card.sig", views.ReleaseCardSignatures.as_view(), name="release-card-sig"),
    path(release + "rsl.xml", views.ReleaseRsl.as_view(), name="release-rsl"),
    # The card's links name this address (datasetcards.cards.native.release_urls).
    path(release + "manifest", manifests.ReleaseManifest.as_view(), name="release-manifest"),
]
