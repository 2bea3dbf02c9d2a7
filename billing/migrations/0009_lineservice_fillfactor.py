"""Line services keep half of each page free on PostgreSQL, for the usage import's updates.

Every usage file takes its usage off the allowances of nearly every line in service: one
UPDATE of each of those rows per file. With room on the row's own page, PostgreSQL writes the
new version there (a HOT update): no new entry in any of the table's indexes, and the old
versions are pruned in place as pages are read, without waiting for VACUUM. With full pages
(the default fill factor, 100) each new version goes to another page, with a new entry in
every index. Half free, because one file updates nearly every row of a page. Pages written
before this keep their fill until rewritten; the new versions go to pages filled by the new
setting, so the table converges on it as imports run. SQLite has no such setting.
"""

from django.db import migrations

FILLFACTOR = 50


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = apps.get_model("billing", "LineService")._meta.db_table
    schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} SET (fillfactor = {FILLFACTOR})")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = apps.get_model("billing", "LineService")._meta.db_table
    schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("billing", "0008_reconciliation_permissions")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor, elidable=False)]
