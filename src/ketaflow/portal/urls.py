from django.urls import path

from ketaflow.portal import views

urlpatterns = [
    path("", views.portal_home, name="portal_home"),
    path("verify/", views.portal_verify, name="portal_verify"),
    path("join/<str:token>/", views.portal_join, name="portal_join"),
    path("answer/<slug:instrument>/", views.portal_answer, name="portal_answer"),
    path("due/<int:due_id>/", views.portal_due, name="portal_due"),
    path("answered/<int:response_id>/", views.portal_answered, name="portal_answered"),
    path("scores/", views.portal_scores, name="portal_scores"),
    path("viewers/", views.portal_viewers, name="portal_viewers"),
    path("account/", views.portal_account, name="portal_account"),
    path("record/", views.portal_record, name="portal_record"),
    path(
        "record/complete-record.pdf",
        views.portal_record_file,
        {"file_format": "pdf"},
        name="portal_record_pdf",
    ),
    path(
        "record/complete-record.json",
        views.portal_record_file,
        {"file_format": "json"},
        name="portal_record_json",
    ),
    path("crisis/", views.portal_crisis, name="portal_crisis"),
    path("instructions/<int:session_id>/", views.portal_instructions, name="portal_instructions"),
    path("invite/<int:patient_id>/", views.portal_invite, name="portal_invite"),
    path("tasks/", views.urgent_task_list, name="urgent_task_list"),
    path("tasks/<int:task_id>/", views.urgent_task_detail, name="urgent_task_detail"),
]
