from django.urls import path

from shop.accounts import views

urlpatterns = [
    path("signup", views.signup, name="signup"),
    path("activate", views.activate, name="activate"),
]
