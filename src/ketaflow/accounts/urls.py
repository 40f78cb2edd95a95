from django.urls import path

from ketaflow.accounts import views

urlpatterns = [
    path("verify/", views.account_verify, name="account_verify"),
    path("enrol/", views.account_enrol, name="account_enrol"),
    path("security/", views.account_security, name="account_security"),
    path("sessions/", views.account_sessions, name="account_sessions"),
    path("signins/", views.signin_list, name="signin_list"),
    path("signins/<int:user_id>/lift/", views.signin_lift, name="signin_lift"),
    path("signins/<int:user_id>/reset/", views.signin_reset, name="signin_reset"),
]
