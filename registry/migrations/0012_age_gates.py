"""Age gates: plausible dates of birth.

The date of birth is encrypted at rest, so no SQL check can read it: ``BirthDateField``
refuses an implausible date on every ORM write, and the database checks what it can
see, the attested age (18 to 120 years)."""

from django.db import migrations, models

import registry.models


class Migration(migrations.Migration):
    dependencies = [("registry", "0011_verbose_names")]

    operations = [
        migrations.AlterField(
            model_name="speaker",
            name="date_of_birth",
            field=registry.models.BirthDateField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name="speaker",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("age_attested_minimum__isnull", True),
                    models.Q(("age_attested_minimum__gte", 18), ("age_attested_minimum__lte", 120)),
                    _connector="OR",
                ),
                name="speaker_attested_age_plausible",
            ),
        ),
    ]
