from django.urls import path

from reviews import views

app_name = "reviews"

urlpatterns = [
    path("verification/", views.verification_status, name="status"),
    path("verification/submit/", views.verification_submit, name="submit"),
    path("verification/precheck/", views.photo_precheck, name="precheck"),
    path("verification/photos/<int:photo_id>/<str:variant>/", views.photo_file, name="photo"),
    path("staff/", views.staff_home, name="staff_home"),
    path("staff/reviews/", views.queue, name="queue"),
    path("staff/reviews/next/", views.claim_next, name="claim_next"),
    path("staff/reviews/<int:submission_id>/", views.review, name="review"),
    path("staff/reviews/<int:submission_id>/claim/", views.claim, name="claim"),
    path("staff/reviews/<int:submission_id>/release/", views.release, name="release"),
    path("staff/reviews/<int:submission_id>/decide/", views.decide, name="decide"),
]
