"""Licensee endpoints for withdrawals: the signed withdrawal feed, webhook endpoints and
the notices delivered to them, and the derived models withdrawals must reach.

Thin: selectors find the caller's own objects (another licensee's is 404 like an unknown
id), services make every change, serializers check shapes."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import GenericAPIView, ListAPIView, RetrieveAPIView
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response

from propagation import feed, selectors, services
from propagation.api import serializers as shapes
from propagation.models import PropagationTarget, WebhookEndpoint
from registry.api.base import CursorPages, LicenseeView, problems
from registry.api.parsers import JsonParser
from registry.api.strict import refuse_body
from registry.models import DerivedModel, Licensee, TokenScope

ERRATUM_ID = "3f0b8c1e-5d2a-4e8b-9a61-2c7d4f9e0b13"
RELEASE_ID = "9b2e4a70-1c3d-4f5e-8a6b-7c8d9e0f1a2b"
RECORDING_ID = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"
TRACK_IDS = ["0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a", "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"]
SIGNATURE = {"alg": "EdDSA", "kid": "Jm1c…", "value": "q3Z…"}
WEBHOOK = {
    "id": "5a4f3e2d-1c0b-4a9f-8e7d-6c5b4a3f2e1d",
    "url": "https://builder.example/hooks/withdrawals",
    "is_active": True,
    "created_at": "2026-11-20T09:00:00Z",
    "rotated_at": None,
    "previous_secret_expires_at": None,
}
DELIVERY = {
    "id": "e4d3c2b1-a0f9-4e8d-b7c6-a5b4c3d2e1f0",
    "kind": "license",
    "status": "delivered",
    "cause": "withdrawal",
    "purpose": "training",
    "effective_at": "2026-11-21T10:00:00Z",
    "license": "1b2c3d4e-5f60-4718-89a0-b1c2d3e4f506",
    "derived_model": None,
    "attempts": 1,
    "last_attempt": {
        "number": 1,
        "started_at": "2026-11-21T10:00:02Z",
        "outcome": "delivered",
        "status_code": 200,
        "latency_ms": 84,
        "error": "",
    },
    "created_at": "2026-11-21T10:00:00Z",
    "delivered_at": "2026-11-21T10:00:02Z",
    "ack_due_at": "2026-12-05T10:00:00Z",
    "ack_overdue_at": None,
    "acknowledged_at": None,
}
MODEL = {
    "id": "2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b",
    "name": "duplex-7b",
    "version": "2026.11",
    "description": "Full-duplex speech model, post-training on turn-taking.",
    "contract_reference": "LIC-2026-014",
    "withdrawal_action": "retrain",
    "trained_at": "2026-11-01T00:00:00Z",
    "status": "flagged",
    "flagged_at": "2026-11-21T10:00:02Z",
    "required_action": "retrain",
    "withdrawals_pending": 1,
    "releases": [{"id": RELEASE_ID, "dataset": "duplex", "version": "1.0.0"}],
    "created_at": "2026-11-02T08:00:00Z",
}


def _licensee(view: LicenseeView, request: Request) -> Licensee:
    token = view.token(request)
    if token.licensee is None:  # only licensee tokens hold these scopes
        raise exceptions.PermissionDenied()
    return token.licensee


# --- withdrawal feed --------------------------------------------------------------------


class WithdrawalFeed(LicenseeView, GenericAPIView[Any]):
    required_scope = TokenScope.READ_FEED.value
    serializer_class = shapes.FeedOut

    @extend_schema(
        operation_id="feed_read",
        summary="Withdrawal feed: errata of the releases licensed to me",
        description=(
            "Every erratum (recordings and tracks to drop from a release) of every release "
            "ever licensed to you, oldest first by `seq`. Poll with `after=<next_cursor>` "
            "of your last read: an entry committed later always has a higher `seq`, so "
            "nothing is skipped (the errata of a release licensed to you later arrive then, "
            "after your cursor). `next_cursor` is a plain integer you may store.\n\n"
            "Each entry carries `statement` (exactly what was signed) and `signature`: "
            "verify with Ed25519 over the RFC 8785 canonical JSON of `statement`, using "
            "the key whose `kid` matches in `/.well-known/jwks.json`; then check that the "
            "entry's fields agree with the statement. Ids only, never personal data."
        ),
        tags=["licensee"],
        parameters=[shapes.FeedQuery],
        responses={200: shapes.FeedOut, **problems(400)},
        examples=[
            OpenApiExample(
                "Two entries",
                response_only=True,
                value={
                    "entries": [
                        {
                            "seq": 41,
                            "id": ERRATUM_ID,
                            "release": RELEASE_ID,
                            "dataset": "duplex",
                            "version": "1.0.0",
                            "purpose": "training",
                            "effective_at": "2026-11-21T10:00:00+00:00",
                            "reason": "withdrawal of training consent by a speaker",
                            "recording_ids": [RECORDING_ID],
                            "track_ids": TRACK_IDS,
                            "created_at": "2026-11-21T10:00:01Z",
                            "statement": {
                                "erratum": ERRATUM_ID,
                                "release": RELEASE_ID,
                                "reason": "withdrawal of training consent by a speaker",
                                "purpose": "training",
                                "effective_at": "2026-11-21T10:00:00+00:00",
                                "recording_ids": [RECORDING_ID],
                                "track_ids": TRACK_IDS,
                            },
                            "signature": SIGNATURE,
                        }
                    ],
                    "next_cursor": 41,
                    "has_more": False,
                },
            )
        ],
    )
    def get(self, request: Request) -> Response:
        query = shapes.FeedQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = feed.feed_page(licensee_id=self.licensee_id(request), **query.validated_data)
        return Response(shapes.FeedOut(page).data)


# --- webhooks ---------------------------------------------------------------------------


class WebhookPages(CursorPages):
    ordering = ("-created_at", "-id")


class ManagingWebhooks(LicenseeView):
    required_scope = TokenScope.MANAGE_WEBHOOKS.value
    parser_classes: Sequence[type[BaseParser]] = [JsonParser]

    def endpoint(self, request: Request, webhook_id: Any) -> WebhookEndpoint:
        return selectors.get_webhook_for_licensee(
            licensee_id=self.licensee_id(request), public_id=webhook_id
        )


class Webhooks(ManagingWebhooks, ListAPIView[WebhookEndpoint]):
    serializer_class = shapes.WebhookOut
    pagination_class = WebhookPages

    def get_queryset(self) -> Any:
        return selectors.webhooks_for_licensee(licensee_id=self.licensee_id(self.request))

    @extend_schema(
        operation_id="webhooks_list",
        summary="My webhook endpoints",
        description="The active endpoint and the ones it replaced (inactive). No secrets.",
        tags=["licensee"],
        responses={200: shapes.WebhookOut(many=True), **problems(400)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="webhooks_register",
        summary="Register my webhook endpoint",
        description=(
            "Withdrawal notices are POSTed here, signed with `Registry-Signature` "
            "(HMAC-SHA256 of `<t>.<body>` under the secret). A licensee has one active "
            "endpoint: registering replaces it (the old one becomes inactive). The URL "
            "must be https on a public address. The `secret` is in this response only."
        ),
        tags=["licensee"],
        request=shapes.WebhookIn,
        responses={201: shapes.WebhookSecretOut, **problems(400, 415)},
        examples=[
            OpenApiExample(
                "Register",
                request_only=True,
                value={"url": "https://builder.example/hooks/withdrawals"},
            ),
            OpenApiExample(
                "Registered",
                response_only=True,
                status_codes=["201"],
                value={**WEBHOOK, "secret": "whsec_3q2-7wE…"},
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        given = shapes.WebhookIn(data=request.data)
        given.is_valid(raise_exception=True)
        issued = services.register_webhook(
            licensee=_licensee(self, request), url=given.validated_data["url"]
        )
        body = shapes.WebhookSecretOut(issued.endpoint).data | {"secret": issued.secret}
        return Response(body, status=status.HTTP_201_CREATED)


class Webhook(ManagingWebhooks, GenericAPIView[WebhookEndpoint]):
    serializer_class = shapes.WebhookOut

    @extend_schema(
        operation_id="webhook_read",
        summary="One of my webhook endpoints",
        tags=["licensee"],
        responses={200: shapes.WebhookOut, **problems(404)},
        examples=[OpenApiExample("Active", response_only=True, value=WEBHOOK)],
    )
    def get(self, request: Request, webhook_id: Any) -> Response:
        return Response(shapes.WebhookOut(self.endpoint(request, webhook_id)).data)

    @extend_schema(
        operation_id="webhook_deactivate",
        summary="Deactivate one of my webhook endpoints",
        description=(
            "Notices stop going to it (until you register another, they go to your "
            "contact address by email). The endpoint stays listed, inactive, as the record "
            "of where notices went. Deactivating an inactive endpoint changes nothing."
        ),
        tags=["licensee"],
        responses={204: OpenApiResponse(description="Deactivated."), **problems(404)},
    )
    def delete(self, request: Request, webhook_id: Any) -> Response:
        refuse_body(request)
        services.deactivate_webhook(endpoint=self.endpoint(request, webhook_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotation(ManagingWebhooks, GenericAPIView[WebhookEndpoint]):
    serializer_class = shapes.WebhookSecretOut

    @extend_schema(
        operation_id="webhook_rotate_secret",
        summary="Rotate my webhook secret",
        description=(
            "A new secret signs from now on; the old one also signs (a second `v1=` in "
            "`Registry-Signature`) for `grace_hours`, so you can switch your verifier "
            "without missing a notice. The new secret is in this response only."
        ),
        tags=["licensee"],
        request=shapes.RotateIn,
        responses={200: shapes.WebhookSecretOut, **problems(400, 404, 409, 415)},
        examples=[
            OpenApiExample("One day of overlap", request_only=True, value={"grace_hours": 24}),
            OpenApiExample(
                "Rotated",
                response_only=True,
                value={
                    **WEBHOOK,
                    "rotated_at": "2026-11-25T12:00:00Z",
                    "previous_secret_expires_at": "2026-11-26T12:00:00Z",
                    "secret": "whsec_Vb8…",
                },
            ),
        ],
    )
    def post(self, request: Request, webhook_id: Any) -> Response:
        endpoint = self.endpoint(request, webhook_id)
        given = shapes.RotateIn(data=request.data)
        given.is_valid(raise_exception=True)
        issued = services.rotate_webhook_secret(
            endpoint=endpoint,
            grace=datetime.timedelta(hours=given.validated_data["grace_hours"]),
        )
        body = shapes.WebhookSecretOut(issued.endpoint).data | {"secret": issued.secret}
        return Response(body)


class WebhookPing(ManagingWebhooks, GenericAPIView[WebhookEndpoint]):
    serializer_class = shapes.PingOut

    @extend_schema(
        operation_id="webhook_ping",
        summary="Send a test event to my webhook endpoint now",
        description=(
            'POSTs `{"type": "ping", "event": "ping", "id", "webhook", "sent_at"}`, signed '
            "and sent exactly as a notice is, and reports what the endpoint answered. An "
            "endpoint that cannot be reached is `ok: false` with the error class, not an "
            "error of this API. Nothing is recorded."
        ),
        tags=["licensee"],
        request=None,
        responses={200: shapes.PingOut, **problems(404, 409)},
        examples=[
            OpenApiExample(
                "Reached",
                response_only=True,
                value={
                    "id": "8c7b6a59-4837-4261-9504-a3b2c1d0e9f8",
                    "ok": True,
                    "status_code": 200,
                    "latency_ms": 63,
                    "error": "",
                },
            ),
            OpenApiExample(
                "Unreachable",
                response_only=True,
                value={
                    "id": "8c7b6a59-4837-4261-9504-a3b2c1d0e9f8",
                    "ok": False,
                    "status_code": None,
                    "latency_ms": 2,
                    "error": "ConnectError",
                },
            ),
        ],
    )
    def post(self, request: Request, webhook_id: Any) -> Response:
        refuse_body(request)
        outcome = services.ping_webhook(endpoint=self.endpoint(request, webhook_id))
        return Response(
            shapes.PingOut(
                {
                    "id": outcome.id,
                    "ok": outcome.ok,
                    "status_code": outcome.status_code,
                    "latency_ms": outcome.latency_ms,
                    "error": outcome.error,
                }
            ).data
        )


# --- deliveries -------------------------------------------------------------------------


class DeliveryPages(CursorPages):
    ordering = ("-created_at", "-id")


class Deliveries(ManagingWebhooks, ListAPIView[PropagationTarget]):
    serializer_class = shapes.DeliveryOut
    pagination_class = DeliveryPages

    def get_queryset(self) -> Any:
        query = shapes.DeliveryQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.deliveries_for_licensee(
            licensee_id=self.licensee_id(self.request), **query.validated_data
        )

    @extend_schema(
        operation_id="deliveries_list",
        parameters=[shapes.DeliveryQuery],
        summary="Withdrawal notices sent to me",
        description=(
            "One per license and per derived model of yours a withdrawal reached, newest "
            "first, with its delivery state, number of attempts, the last attempt's "
            "outcome and the acknowledgement deadline. `id` is the notice's `id` and "
            "Idempotency-Key."
        ),
        tags=["licensee"],
        responses={200: shapes.DeliveryOut(many=True), **problems(400)},
        examples=[OpenApiExample("Delivered", response_only=True, value=[DELIVERY])],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class Delivery(ManagingWebhooks, RetrieveAPIView[PropagationTarget]):
    serializer_class = shapes.DeliveryDetailOut

    def get_object(self) -> PropagationTarget:
        return selectors.get_delivery_for_licensee(
            licensee_id=self.licensee_id(self.request), key=self.kwargs["delivery_id"]
        )

    @extend_schema(
        operation_id="delivery_read",
        summary="One withdrawal notice sent to me, with every attempt",
        tags=["licensee"],
        responses={200: shapes.DeliveryDetailOut, **problems(404)},
        examples=[
            OpenApiExample(
                "Delivered",
                response_only=True,
                value={**DELIVERY, "attempt_log": [DELIVERY["last_attempt"]]},
            )
        ],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class DeliveryAcknowledgement(ManagingWebhooks, GenericAPIView[PropagationTarget]):
    serializer_class = shapes.AcknowledgementOut

    @extend_schema(
        operation_id="delivery_acknowledge",
        summary="Acknowledge a withdrawal notice",
        description=(
            "Confirms you acted on the notice (the same acknowledgement as the notice's "
            "own `acknowledge.url` with its token). Idempotent: acknowledging again "
            "answers 200 with the first `acknowledged_at`. A notice not delivered yet "
            "cannot be acknowledged (409)."
        ),
        tags=["licensee"],
        request=None,
        responses={200: shapes.AcknowledgementOut, **problems(404, 409)},
        examples=[
            OpenApiExample(
                "Acknowledged",
                response_only=True,
                value={
                    "id": DELIVERY["id"],
                    "status": "acknowledged",
                    "acknowledged_at": "2026-11-22T08:30:00Z",
                },
            )
        ],
    )
    def post(self, request: Request, delivery_id: Any) -> Response:
        refuse_body(request)
        target = selectors.get_delivery_for_licensee(
            licensee_id=self.licensee_id(request), key=delivery_id
        )
        acknowledged = services.acknowledge_delivery(target=target)
        return Response(shapes.AcknowledgementOut(acknowledged).data)


# --- derived models ---------------------------------------------------------------------


class ModelPages(CursorPages):
    ordering = ("-created_at", "-id")


class ManagingModels(LicenseeView):
    required_scope = TokenScope.MANAGE_MODELS.value
    parser_classes: Sequence[type[BaseParser]] = [JsonParser]

    def model(self, request: Request, model_id: Any) -> DerivedModel:
        return selectors.get_model_for_licensee(
            licensee_id=self.licensee_id(request), public_id=model_id
        )

    def detail(self, request: Request, model_id: Any, *, status_code: int = 200) -> Response:
        """The model as it is now (re-read after a change)."""
        model = self.model(request, model_id)
        context = {
            "pending_notices": selectors.pending_model_notices(model=model),
            "last_report": selectors.latest_model_report(model=model),
        }
        return Response(shapes.ModelDetailOut(model, context=context).data, status=status_code)


MODEL_DETAIL_EXAMPLE = OpenApiExample(
    "Flagged",
    response_only=True,
    value={
        **MODEL,
        "pending_notices": [
            {
                "id": "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9",
                "status": "delivered",
                "cause": "withdrawal",
                "effective_at": "2026-11-21T10:00:00Z",
                "delivered_at": "2026-11-21T10:00:02Z",
                "ack_due_at": "2026-12-21T10:00:00Z",
            }
        ],
        "last_report": None,
    },
)


class DerivedModels(ManagingModels, ListAPIView[DerivedModel]):
    serializer_class = shapes.ModelOut
    pagination_class = ModelPages

    def get_queryset(self) -> Any:
        return selectors.models_for_licensee(licensee_id=self.licensee_id(self.request))

    @extend_schema(
        operation_id="models_list",
        summary="My derived models",
        tags=["licensee"],
        responses={200: shapes.ModelOut(many=True), **problems(400)},
        examples=[OpenApiExample("One model", response_only=True, value=[MODEL])],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="models_declare",
        summary="Declare a model trained on releases licensed to me",
        description=(
            "Every later withdrawal from those releases reaches the model: it is flagged "
            "with the action your contract requires and a notice is sent. Declared on a "
            "release that already has errata, it is flagged at once. Every release must "
            "be licensed to you (an unknown id is refused with the same words)."
        ),
        tags=["licensee"],
        request=shapes.ModelIn,
        responses={201: shapes.ModelDetailOut, **problems(400, 409, 415)},
        examples=[
            OpenApiExample(
                "Declare",
                request_only=True,
                value={
                    "name": "duplex-7b",
                    "version": "2026.11",
                    "withdrawal_action": "retrain",
                    "trained_at": "2026-11-01T00:00:00Z",
                    "releases": [RELEASE_ID],
                },
            ),
            OpenApiExample(
                "Declared",
                response_only=True,
                status_codes=["201"],
                value={
                    **MODEL,
                    "status": "active",
                    "flagged_at": None,
                    "required_action": None,
                    "withdrawals_pending": 0,
                    "pending_notices": [],
                    "last_report": None,
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        given = shapes.ModelIn(data=request.data)
        given.is_valid(raise_exception=True)
        data = dict(given.validated_data)
        model = services.declare_derived_model(
            licensee=_licensee(self, request), release_ids=data.pop("releases"), **data
        )
        return self.detail(request, model.public_id, status_code=status.HTTP_201_CREATED)


class DerivedModelDetail(ManagingModels, GenericAPIView[DerivedModel]):
    serializer_class = shapes.ModelDetailOut

    @extend_schema(
        operation_id="model_read",
        summary="One of my models: status, withdrawals pending, notices",
        tags=["licensee"],
        responses={200: shapes.ModelDetailOut, **problems(404)},
        examples=[MODEL_DETAIL_EXAMPLE],
    )
    def get(self, request: Request, model_id: Any) -> Response:
        return self.detail(request, model_id)

    @extend_schema(
        operation_id="model_report_status",
        summary="Report that I retrained, filtered or retired a model",
        description=(
            "`retrained` or `filtered` answers a flagged model's pending withdrawals "
            "(`filtered` only where the contract does not require retraining); `retired` "
            "takes any model out of use for good. The withdrawals pending are cleared "
            "and the model's notices delivered so far are acknowledged; a notice still on "
            "its way flags the model again when it arrives."
        ),
        tags=["licensee"],
        request=shapes.ModelStatusIn,
        responses={200: shapes.ModelDetailOut, **problems(400, 404, 409, 415)},
        examples=[
            OpenApiExample(
                "Retrained",
                request_only=True,
                value={"status": "retrained", "note": "v2026.12 trained on duplex 1.1.0"},
            ),
            OpenApiExample(
                "After the report",
                response_only=True,
                value={
                    **MODEL,
                    "status": "retrained",
                    "flagged_at": None,
                    "required_action": None,
                    "withdrawals_pending": 0,
                    "pending_notices": [],
                    "last_report": {
                        "id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                        "status": "retrained",
                        "note": "v2026.12 trained on duplex 1.1.0",
                        "reported_at": "2026-11-28T16:00:00Z",
                        "withdrawals_cleared": 1,
                        "acknowledged_notices": ["f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9"],
                    },
                },
            ),
        ],
    )
    def patch(self, request: Request, model_id: Any) -> Response:
        model = self.model(request, model_id)
        given = shapes.ModelStatusIn(data=request.data)
        given.is_valid(raise_exception=True)
        services.report_model_status(model=model, **given.validated_data)
        return self.detail(request, model_id)


class DerivedModelReleases(ManagingModels, GenericAPIView[DerivedModel]):
    serializer_class = shapes.ModelDetailOut

    @extend_schema(
        operation_id="model_add_releases",
        summary="Declare more releases a model was (re)trained on",
        description=(
            "Each must be licensed to you (an unknown id is refused with the same words); "
            "ones already declared are kept. A release that already has errata flags the "
            "model at once."
        ),
        tags=["licensee"],
        request=shapes.ModelReleasesIn,
        responses={200: shapes.ModelDetailOut, **problems(400, 404, 415)},
        examples=[
            OpenApiExample("Add a release", request_only=True, value={"releases": [RELEASE_ID]}),
            MODEL_DETAIL_EXAMPLE,
        ],
    )
    def post(self, request: Request, model_id: Any) -> Response:
        model = self.model(request, model_id)
        given = shapes.ModelReleasesIn(data=request.data)
        given.is_valid(raise_exception=True)
        services.add_model_releases(model=model, release_ids=given.validated_data["releases"])
        return self.detail(request, model_id)
