from django.urls import path

from ketaflow.candidacy import views

urlpatterns = [
    path("patients/<int:patient_id>/intake/", views.intake_new, name="candidacy_intake"),
    path("patients/<int:patient_id>/consent/", views.consent, name="consent"),
    path("<int:assessment_id>/", views.candidacy_detail, name="candidacy_detail"),
    path("<int:assessment_id>/sign/", views.candidacy_sign, name="candidacy_sign"),
    path("<int:assessment_id>/decline/", views.candidacy_decline, name="candidacy_decline"),
    path("<int:assessment_id>/letter/", views.candidacy_letter, name="candidacy_letter"),
    path("consents/<int:consent_id>/withdraw/", views.consent_withdraw, name="consent_withdraw"),
]
