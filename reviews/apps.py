from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = _("Real-name verification")

    def ready(self):
        from django.conf import settings
        from django.db.models.signals import post_delete, post_save
        from PIL import Image
        from pillow_heif import register_heif_opener

        from .models import ReasonCode
        from .selectors import reason_codes_changed

        # An edited or deleted reason code is read afresh by the next review screen.
        post_save.connect(reason_codes_changed, sender=ReasonCode, dispatch_uid="reason-codes-saved")
        post_delete.connect(reason_codes_changed, sender=ReasonCode, dispatch_uid="reason-codes-deleted")

        register_heif_opener()  # iPhones take HEIC photos
        # A second line of defence behind the pipeline's own header check.
        Image.MAX_IMAGE_PIXELS = settings.PHOTO_MAX_PIXELS
