"""Imports every model module so the metadata is complete (for Alembic and the ORM)."""

from app.admin import models as admin_models  # noqa: F401
from app.core import audit, events, jobs, security  # noqa: F401
from app.core.db import Base
from app.helpline import models as helpline_models  # noqa: F401
from app.shiftlead import models as shiftlead_models  # noqa: F401
from telephony import models as telephony_models  # noqa: F401
from telephony import monitoring_models  # noqa: F401
from transfers.directory import models as directory_models  # noqa: F401
from transfers.tickets import models as ticket_models  # noqa: F401

metadata = Base.metadata
