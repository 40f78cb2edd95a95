from django.urls import path

from ketaflow.clinicsettings import views

urlpatterns = [
    path("", views.settings_page, name="clinic_settings"),
    path("<str:key>/", views.setting_update, name="clinic_setting_update"),
]
