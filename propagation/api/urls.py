"""/api/v1/ for licensees: the withdrawal feed, webhooks and their deliveries, models."""

from django.urls import path

from propagation.api import views

urlpatterns = [
    path("feed/", views.WithdrawalFeed.as_view(), name="feed"),
    path("webhooks/", views.Webhooks.as_view(), name="webhooks"),
    path("webhooks/<uuid:webhook_id>/", views.Webhook.as_view(), name="webhook"),
    path(
        "webhooks/<uuid:webhook_id>/rotate-secret",
        views.WebhookRotation.as_view(),
        name="webhook-rotate-secret",
    ),
    path("webhooks/<uuid:webhook_id>/ping", views.WebhookPing.as_view(), name="webhook-ping"),
    path("deliveries/", views.Deliveries.as_view(), name="deliveries"),
    path("deliveries/<uuid:delivery_id>/", views.Delivery.as_view(), name="delivery"),
    path(
        "deliveries/<uuid:delivery_id>/acknowledge",
        views.DeliveryAcknowledgement.as_view(),
        name="delivery-acknowledge",
    ),
    path("models/", views.DerivedModels.as_view(), name="models"),
    path("models/<uuid:model_id>/", views.DerivedModelDetail.as_view(), name="model"),
    path(
        "models/<uuid:model_id>/releases",
        views.DerivedModelReleases.as_view(),
        name="model-releases",
    ),
]
