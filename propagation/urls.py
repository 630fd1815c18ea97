from django.urls import path

from propagation import views

app_name = "propagation"

urlpatterns = [
    path(
        "api/v1/notices/<uuid:key>/acknowledge",
        views.acknowledge_notice,
        name="acknowledge",
    ),
]
