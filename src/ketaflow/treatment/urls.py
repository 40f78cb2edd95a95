from django.urls import path

from ketaflow.treatment import views

urlpatterns = [
    path("board/", views.chair_board, name="chair_board"),
    path("patients/<int:patient_id>/plan/", views.course_plan, name="course_plan"),
    path("courses/<int:course_id>/", views.course_detail, name="course_detail"),
    path("courses/<int:course_id>/book/", views.course_book, name="course_book"),
    path(
        "appointments/<int:appointment_id>/cancel/",
        views.appointment_cancel,
        name="appointment_cancel",
    ),
    path(
        "appointments/<int:appointment_id>/reschedule/",
        views.appointment_reschedule,
        name="appointment_reschedule",
    ),
]
