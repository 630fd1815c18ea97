from django.urls import path

from speakers import views

app_name = "speakers"

urlpatterns = [
    path("signin/", views.sign_in, name="sign-in"),
    path("signin/link/", views.request_link, name="request-link"),
    path("signin/link/<str:token>/", views.redeem_link, name="redeem-link"),
    path("signout/", views.sign_out, name="sign-out"),
    path("me/", views.dashboard, name="dashboard"),
    path("me/consents/<str:purpose>/give/", views.give, name="give"),
    path("me/consents/<str:purpose>/withdraw/", views.withdraw, name="withdraw"),
    path("me/history/", views.history, name="history"),
    path("me/receipts/<uuid:event_id>.json", views.receipt_json, name="receipt-json"),
    path("me/receipts/<uuid:event_id>.pdf", views.receipt_pdf_view, name="receipt-pdf"),
    path("me/recordings/", views.recordings, name="recordings"),
    path("me/recordings/<uuid:recording_id>/", views.recording_detail, name="recording"),
    path("me/earnings/", views.earnings, name="earnings"),
    path("me/earnings/statement.csv", views.statement_csv_view, name="statement-csv"),
    path("me/earnings/statement.pdf", views.statement_pdf_view, name="statement-pdf"),
    path("me/data/", views.my_data, name="data"),
    path("me/data/export.json", views.data_export, name="data-export"),
    path("me/data/erasure/", views.erasure, name="erasure"),
    path("me/password/", views.password, name="password"),
    path("language/", views.choose_language, name="language"),
    path("invite/<str:token>/", views.invitation, name="invitation"),
    path("invite/<str:token>/age/", views.invitation_age, name="invitation-age"),
    path(
        "invite/<str:token>/consent/<str:purpose>/",
        views.invitation_consent,
        name="invitation-consent",
    ),
    path(
        "invite/<str:token>/withdraw/<str:purpose>/",
        views.invitation_withdraw,
        name="invitation-withdraw",
    ),
    path("verify/", views.verify, name="verify"),
]
