from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path

from ketaflow.accounts.forms import SignInForm
from ketaflow.api.endpoints import api
from ketaflow.backup import views as backup_views
from ketaflow.fhir.api import fhir
from ketaflow.web import views as web_views


def favicon(request: HttpRequest) -> HttpResponse:
    """The icon's hashed static URL, looked up when asked (at import it needs collectstatic's
    manifest in production, so every management command failed on a fresh server)."""
    return HttpResponseRedirect(static("ketaflow/favicon.svg"))


handler500 = "ketaflow.web.errors.server_error"

urlpatterns = [
    path("", web_views.home, name="home"),
    path("healthz", backup_views.healthz, name="healthz"),
    # Pages link the icon (base.html); the administration's pages and browsers ask for this.
    path("favicon.ico", favicon, name="favicon"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="web/login.html",
            redirect_authenticated_user=True,
            authentication_form=SignInForm,
        ),
        name="login",
    ),
    path("logout/", web_views.SignOutView.as_view(), name="logout"),
    path("patients/", include("ketaflow.patients.urls")),
    path("audit/", include("ketaflow.audit.urls")),
    path("infusions/", include("ketaflow.infusions.urls")),
    path("treatment/", include("ketaflow.treatment.urls")),
    path("candidacy/", include("ketaflow.candidacy.urls")),
    path("ledger/", include("ketaflow.ledger.urls")),
    path("outcomes/", include("ketaflow.outcomes.urls")),
    path("portal/", include("ketaflow.portal.urls")),
    path("account/api-tokens/", include("ketaflow.api.urls")),
    path("account/", include("ketaflow.accounts.urls")),
    path("settings/clinical/", include("ketaflow.clinicsettings.urls")),
    path("api/", api.urls),
    path("fhir/", fhir.urls),
    path("backups/", include("ketaflow.backup.urls")),
    path("research/", include("ketaflow.research.urls")),
    path("admin/", admin.site.urls),
]
