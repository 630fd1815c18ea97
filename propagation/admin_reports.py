"""The compliance report page of the admin: a period (and optionally a jurisdiction) in,
a PDF out (``propagation.reports`` decides every figure, ``propagation.report_pdf``
lays it out). Only staff with ``registry.export_records`` may generate one, and each
report generated is written to the access log with its period."""

from __future__ import annotations

import datetime
from typing import Any, cast

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from consent.models import Jurisdiction
from propagation import reports
from propagation.report_pdf import compliance_report_pdf
from registry.access_log import record_access
from registry.admin_site import RegistryAdminSite
from registry.errors import InvalidInput
from registry.forms import StrictForm, posted
from registry.models import AccessAction

EXPORT_PERMISSION = "registry.export_records"


def _jurisdictions() -> list[tuple[str, str]]:
    return [("", "All jurisdictions")] + [
        (code, f"{code} — {name}")
        for code, name in Jurisdiction.objects.order_by("code").values_list("code", "name")
    ]


class ComplianceReportForm(StrictForm):
    start = forms.DateField(
        label="From",
        help_text="First day of the period (UTC).",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    end = forms.DateField(
        label="To",
        help_text=f"Last day of the period, included (at most {reports.MAX_REPORT_DAYS} days).",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    jurisdiction = forms.ChoiceField(
        required=False,
        choices=_jurisdictions,
        help_text="Only speakers of this jurisdiction and those under it (EU: DE, FR, …).",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # The period is checked even when the jurisdiction was refused already.
        if "start" in data and "end" in data:
            try:
                reports.check_report_request(
                    start=data["start"], end=data["end"], jurisdiction=data.get("jurisdiction")
                )
            except InvalidInput as exc:
                self.add_error(exc.field if exc.field in self.fields else None, exc.detail)
        return data


def _initial() -> dict[str, datetime.date]:
    # The previous calendar month: the period staff report on most often.
    first_of_month = timezone.now().date().replace(day=1)
    last_month_end = first_of_month - datetime.timedelta(days=1)
    return {"start": last_month_end.replace(day=1), "end": last_month_end}


def compliance_report_view(request: HttpRequest) -> HttpResponse:
    """GET: the form. POST: the PDF (logged), or the form again with what is wrong
    (nothing logged)."""
    if not request.user.has_perm(EXPORT_PERMISSION):
        raise PermissionDenied
    if request.method == "POST":
        form = ComplianceReportForm(posted(request))
        if form.is_valid():
            return _report_response(request, form.cleaned_data)
    else:
        form = ComplianceReportForm(initial=_initial())
    context = {
        **admin.site.each_context(request),
        "title": "Compliance report",
        "form": form,
        "max_days": reports.MAX_REPORT_DAYS,
    }
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "admin/propagation/report.html", context, status=status)


def _report_response(request: HttpRequest, data: dict[str, Any]) -> HttpResponse:
    start, end = data["start"], data["end"]
    jurisdiction = data["jurisdiction"] or None
    report = reports.compliance_report(start=start, end=end, jurisdiction=jurisdiction)
    pdf = compliance_report_pdf(report)
    record_access(
        request=request,
        action=AccessAction.REPORT_GENERATED,
        detail={
            "from": start.isoformat(),
            "to": end.isoformat(),
            "jurisdiction": jurisdiction,
            "via": "admin",
        },
    )
    suffix = f"_{jurisdiction}" if jurisdiction else ""
    filename = f"compliance-report_{start.isoformat()}_{end.isoformat()}{suffix}.pdf"
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# The page belongs to no model: it joins the site's own URLs (admin_view checks staff
# and two-factor sign-in).
cast(RegistryAdminSite, admin.site).register_page(
    "compliance-report/", compliance_report_view, "compliance_report"
)
