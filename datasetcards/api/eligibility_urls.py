"""Licensee eligibility: what may I use for a purpose now, and why for one recording."""

from django.urls import path

from datasetcards.api import eligibility

urlpatterns = [
    path("eligibility/tracks/", eligibility.EligibleTracks.as_view(), name="eligible-tracks"),
    path(
        "eligibility/recordings/",
        eligibility.EligibleRecordings.as_view(),
        name="eligible-recordings",
    ),
    path(
        "recordings/<uuid:recording_id>/eligibility/",
        eligibility.RecordingEligibility.as_view(),
        name="recording-eligibility",
    ),
]
