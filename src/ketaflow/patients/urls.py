from django.urls import path

from ketaflow.patients import views

urlpatterns = [
    path("", views.patient_list, name="patient_list"),
    path("new/", views.patient_new, name="patient_new"),
    path("<int:patient_id>/", views.patient_chart, name="patient_chart"),
    path("<int:patient_id>/edit/", views.patient_edit, name="patient_edit"),
    path("<int:patient_id>/export.json", views.patient_export, name="patient_export"),
    *(
        path(
            f"<int:patient_id>/complete-record.{fmt}",
            views.patient_record,
            {"file_format": fmt},
            name=f"patient_record_{fmt}",
        )
        for fmt in ("pdf", "json")
    ),
    path("<int:patient_id>/notes/new/", views.note_new, name="note_new"),
    path("<int:patient_id>/<slug:kind>/new/", views.record_new, name="record_new"),
    path("<int:patient_id>/<slug:kind>/<int:record_id>/", views.record_edit, name="record_edit"),
    path(
        "<int:patient_id>/<slug:kind>/<int:record_id>/remove/",
        views.record_remove,
        name="record_remove",
    ),
]
