"""Course.indication is a choice of ketaflow.clinical.Indication, checked by the database
(0003 made the existing rows valid first)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('candidacy', '0001_initial'),
        ('patients', '0001_initial'),
        ('treatment', '0003_course_indication_map_old_values'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='course',
            name='indication',
            field=models.CharField(choices=[('ptsd', 'PTSD'), ('depression', 'Treatment-resistant depression')], max_length=16),
        ),
        migrations.AddConstraint(
            model_name='course',
            constraint=models.CheckConstraint(condition=models.Q(('indication__in', ['ptsd', 'depression'])), name='course_indication_valid'),
        ),
    ]
