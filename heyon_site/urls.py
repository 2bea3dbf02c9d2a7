from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("", include("accounts.urls")),
    path("", include("reviews.urls")),
    path("", include("billing.urls")),
    path("", include("customers.urls")),
]

# The error page must render without the database (see heyon_site/errors.py).
handler500 = "heyon_site.errors.server_error"
