from rest_framework.renderers import BaseRenderer, JSONRenderer


class PdfRenderer(BaseRenderer):
    """Lets an app that asks for application/pdf get the PDF (the view makes the bytes)."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        # A problem raised on the way (404, 401…) still leaves as JSON.
        return JSONRenderer().render(data, accepted_media_type, renderer_context)


class ZipRenderer(PdfRenderer):
    media_type = "application/zip"
    format = "zip"


PDF_RENDERERS = [JSONRenderer, PdfRenderer]
ZIP_RENDERERS = [JSONRenderer, ZipRenderer]
