"""The memberships package's permission aliases: staff of the merchant a program belongs to
(`accounts.permissions.staff_of`); strangers get the same 404 as for a missing program.
"""

from __future__ import annotations

from typing import Annotated

from accounts.permissions import StaffContext, staff_of
from memberships import service
from memberships.service.errors import ProgramNotFound

program_staff = staff_of("program_id", service.program_merchant, ProgramNotFound)

ProgramManager = Annotated[StaffContext, program_staff("manager")]
