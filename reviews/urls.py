from django.urls import path

from reviews import views, views_desk, views_quality

app_name = "reviews"

urlpatterns = [
    path("verification/", views.verification_status, name="status"),
    path("verification/submit/", views.verification_submit, name="submit"),
    path("verification/precheck/", views.photo_precheck, name="precheck"),
    path("verification/photos/<int:photo_id>/<str:variant>/", views.photo_file, name="photo"),
    path("verification/kept-photos/<str:kind>/", views.draft_photo_file, name="draft_photo"),
    path("staff/desk/", views_desk.desk, name="desk"),
    path("staff/desk/lookup/", views_desk.desk_lookup, name="desk_lookup"),
    path("staff/desk/verify/", views_desk.desk_verify, name="desk_verify"),
    path("staff/desk/kept-photos/<int:line_id>/<str:kind>/", views_desk.desk_draft_photo_file, name="desk_draft_photo"),
    path("staff/desk/certificates/<str:number>/", views_desk.desk_certificate, name="desk_certificate"),
    path("staff/desk/certificates/<str:number>/pdf/", views_desk.desk_certificate_pdf, name="desk_certificate_pdf"),
    path("certificates/verify/", views_desk.certificate_verify, name="certificate_verify"),
    path("staff/reviews/", views.queue, name="queue"),
    path("staff/reviews/next/", views.claim_next, name="claim_next"),
    path("staff/reviews/samples/", views_quality.samples, name="samples"),
    path("staff/reviews/samples/<int:sample_id>/", views_quality.sample_check, name="sample_check"),
    path("staff/reviews/<int:submission_id>/", views.review, name="review"),
    path("staff/reviews/<int:submission_id>/claim/", views.claim, name="claim"),
    path("staff/reviews/<int:submission_id>/claim/renew/", views.claim_renew, name="claim_renew"),
    path("staff/reviews/<int:submission_id>/release/", views.release, name="release"),
    path("staff/reviews/<int:submission_id>/decide/", views.decide, name="decide"),
    path("staff/reviews/<int:submission_id>/escalate/", views.escalate, name="escalate"),
    path("staff/reviews/<int:submission_id>/revoke/", views.revoke, name="revoke"),
]
