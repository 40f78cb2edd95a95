from django.urls import path

from ketaflow.outcomes import views

urlpatterns = [
    path("patients/<int:patient_id>/", views.patient_trajectory, name="outcomes_trajectory"),
    path("patients/<int:patient_id>/report.pdf", views.progress_report, name="outcomes_report"),
    path("recommendations/", views.recommendation_list, name="outcomes_recommendations"),
    path(
        "recommendations/<int:rec_id>/accept/",
        views.recommendation_accept,
        name="outcomes_recommendation_accept",
    ),
    path(
        "recommendations/<int:rec_id>/decline/",
        views.recommendation_decline,
        name="outcomes_recommendation_decline",
    ),
    path("dashboard/", views.dashboard, name="outcomes_dashboard"),
    path("dashboard/patients/", views.dashboard_patients, name="outcomes_dashboard_patients"),
]
