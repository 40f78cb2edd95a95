from django.urls import path

from ketaflow.backup import views

urlpatterns = [
    path("", views.backup_status, name="backup_status"),
]
