from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = _("Real-name verification")

    def ready(self):
        from django.conf import settings
        from PIL import Image
        from pillow_heif import register_heif_opener

        register_heif_opener()  # iPhones take HEIC photos
        # A second line of defence behind the pipeline's own header check.
        Image.MAX_IMAGE_PIXELS = settings.PHOTO_MAX_PIXELS
