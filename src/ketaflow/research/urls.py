from django.urls import path

from ketaflow.research import views

urlpatterns = [
    path("export/", views.export_page, name="research_export"),
]
