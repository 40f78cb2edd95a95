from django.urls import path

from ketaflow.api import views

urlpatterns = [
    path("", views.token_list, name="api_tokens"),
    path("<int:token_id>/revoke/", views.token_revoke, name="api_token_revoke"),
]
