"""The collection platform's endpoints (collector tokens)."""

from django.urls import path

from consent.api import views

urlpatterns = [
    path("speakers/", views.Speakers.as_view(), name="collector-speakers"),
    path(
        "speakers/<uuid:speaker_id>/consents/",
        views.SpeakerConsents.as_view(),
        name="collector-speaker-consents",
    ),
    path("notices/", views.Notices.as_view(), name="collector-notices"),
    path("sessions/", views.Sessions.as_view(), name="collector-sessions"),
    path(
        "sessions/<uuid:session_id>/clearance/",
        views.SessionClearance.as_view(),
        name="collector-session-clearance",
    ),
    path("recordings/", views.Recordings.as_view(), name="collector-recordings"),
    path("recordings/bulk/", views.RecordingsBulk.as_view(), name="collector-recordings-bulk"),
]
