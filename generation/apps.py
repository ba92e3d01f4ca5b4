from django.apps import AppConfig
from django.core import checks


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Generation"

    def ready(self) -> None:
        from config.placeholders import check_placeholders

        # Placeholders from deploy/production.env.example: reported by check --deploy.
        checks.register(check_placeholders, checks.Tags.security, deploy=True)
