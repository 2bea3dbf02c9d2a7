"""Seed the reason codes of the specification and give the roles their review permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

REASON_CODES = [
    # code, short label, customer text (zh), customer text (en), kind
    (
        "IMG_BLURRY",
        "照片模糊",
        "照片模糊，证件上的文字看不清",
        "The photo is blurry and the text on the ID cannot be read",
        "retry",
    ),
    ("IMG_GLARE", "反光", "照片有反光，遮住了证件信息", "Glare on the photo hides the ID details", "retry"),
    ("IMG_DARK", "过暗", "照片太暗，看不清证件信息", "The photo is too dark to read the ID", "retry"),
    ("DOC_CROPPED", "四角不全", "证件四角或边缘未拍全", "Corners or edges of the ID are cut off", "retry"),
    ("DOC_COVERED", "遮挡", "手指或其他物品遮挡了证件信息", "Fingers or objects cover the ID details", "retry"),
    (
        "SIDE_WRONG",
        "正反面错误",
        "证件正反面上传错误、缺失或颠倒",
        "A side of the ID is wrong, missing or swapped",
        "retry",
    ),
    (
        "NOT_ORIGINAL",
        "非原件",
        "请拍摄证件原件，不接受截图、复印件或翻拍屏幕",
        "Photograph the original ID: no screenshots, photocopies or photos of a screen",
        "retry",
    ),
    (
        "WRONG_DOC",
        "证件类型不符",
        "上传的不是可接受的证件（请使用居民身份证）",
        "This is not an accepted ID (use your Resident ID card)",
        "retry",
    ),
    ("DOC_EXPIRED", "证件过期", "证件已过有效期", "The ID has expired", "retry"),
    ("DOC_DAMAGED", "证件破损", "证件破损，信息无法辨认", "The ID is damaged and cannot be read", "retry"),
    (
        "HANDHELD_BAD",
        "手持照不合格",
        "手持证件照中看不清人脸或证件",
        "Your face or the ID is not visible in the handheld photo",
        "retry",
    ),
    (
        "INFO_MISMATCH",
        "信息不符",
        "填写的姓名或证件号码与证件不一致",
        "The name or ID number typed differs from the ID card",
        "retry",
    ),
    (
        "UNDERAGE",
        "未成年",
        "未达到自助办理的最低年龄，请由监护人陪同到营业厅办理",
        "Below the minimum age to register alone: visit a service point with a guardian",
        "final",
    ),
    ("FACE_MISMATCH", "人证不一致", "本人与证件照片不一致", "The person is not the holder of the ID", "final"),
    ("DOC_TAMPERED", "证件伪造/篡改", "证件疑似经过编辑或伪造", "The ID appears edited or forged", "final"),
    (
        "DUPLICATE_IDENTITY",
        "重复身份",
        "该身份在多个账号中被异常使用",
        "This identity is used abnormally across accounts",
        "final",
    ),
    (
        "LINE_LIMIT",
        "超出一证五号",
        "该证件名下号码已达上限（一证五号）",
        "This ID already holds the maximum number of lines",
        "final",
    ),
    (
        "RETRY_LIMIT",
        "重试次数过多",
        "认证失败次数过多，请联系客服或到营业厅办理",
        "Too many rejected attempts: contact support or visit a service point",
        "final",
    ),
]

ROLE_PERMISSIONS = {
    "reviewer": ["review_submission", "view_submission", "view_id_photos", "view_reasoncode"],
    "senior_reviewer": [
        "review_submission",
        "view_submission",
        "view_id_photos",
        "view_reasoncode",
        "view_full_id_number",
        "view_submissionevent",
        "view_photoaccess",
    ],
    "support": ["view_submission", "lift_final_rejection", "view_reasoncode", "view_submissionevent"],
    "admin": "__all__",
}


def seed(apps, schema_editor):
    ReasonCode = apps.get_model("reviews", "ReasonCode")
    for order, (code, label, zh, en, kind) in enumerate(REASON_CODES):
        ReasonCode.objects.update_or_create(
            code=code,
            defaults={
                "label_zh": label,
                "customer_text_zh": zh,
                "customer_text_en": en,
                "kind": kind,
                "sort_order": order,
            },
        )
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        reviews_perms = Permission.objects.filter(content_type__app_label="reviews")
        if codenames == "__all__":
            group.permissions.add(*reviews_perms)
        else:
            group.permissions.add(*reviews_perms.filter(codename__in=codenames))


def unseed(apps, schema_editor):
    apps.get_model("reviews", "ReasonCode").objects.filter(code__in=[row[0] for row in REASON_CODES]).delete()


class Migration(migrations.Migration):
    dependencies = [("reviews", "0001_initial"), ("accounts", "0002_staff_roles")]

    operations = [migrations.RunPython(seed, unseed)]
