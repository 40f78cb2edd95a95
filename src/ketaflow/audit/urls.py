from django.urls import path

from ketaflow.audit import views

urlpatterns = [
    path("", views.audit_list, name="audit_list"),
    path("patients/<int:patient_id>/", views.patient_access_history, name="patient_access_history"),
]
