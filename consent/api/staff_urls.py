"""Compliance staff (``/api/v1/staff/``, scope ``staff:read``)."""

from django.urls import path

from consent.api import staff

urlpatterns = [
    path("speakers/", staff.StaffSpeakerLookup.as_view(), name="staff-speakers"),
    path(
        "speakers/<uuid:speaker_id>/events/",
        staff.StaffSpeakerEvents.as_view(),
        name="staff-speaker-events",
    ),
    path(
        "speakers/<uuid:speaker_id>/consents/",
        staff.StaffSpeakerConsents.as_view(),
        name="staff-speaker-consents",
    ),
    path(
        "speakers/<uuid:speaker_id>/propagation/",
        staff.StaffSpeakerPropagation.as_view(),
        name="staff-speaker-propagation",
    ),
    path("events/export/", staff.StaffEventsExport.as_view(), name="staff-events-export"),
]
