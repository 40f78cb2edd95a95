from django.urls import path

from ketaflow.infusions import views

urlpatterns = [
    path("today/", views.today, name="infusion_today"),
    path("open/<int:appointment_id>/", views.open_session, name="infusion_open"),
    path("<int:session_id>/", views.session_page, name="infusion_session"),
    path("<int:session_id>/do/<slug:action>/", views.session_action, name="infusion_action"),
    path(
        "<int:session_id>/vitals/<int:entry_id>/correct/",
        views.correction_form,
        name="infusion_correct",
    ),
    path(
        "<int:session_id>/instructions/",
        views.discharge_instructions,
        name="infusion_instructions",
    ),
    path(
        "<int:session_id>/questionnaire/<slug:instrument>/",
        views.questionnaire_page,
        name="infusion_questionnaire",
    ),
    path("<int:session_id>/flowsheet/", views.flowsheet_page, name="infusion_flowsheet"),
]
