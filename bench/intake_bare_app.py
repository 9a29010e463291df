"""Baseline for the intake benchmark: the same edge validation as POST /cases, no Kafka, no Mongo.

python bench/intake_bare_app.py PORT
"""

import sys
from datetime import datetime
from itertools import count
from typing import Annotated
from uuid import uuid4
from zoneinfo import ZoneInfo

from fastapi import Body, FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse

from intake.logic import check_priority, date_problems
from intake.models import COMMON_FIELDS, CaseCreate
from shared.cases import DETAILS_BY_TYPE
from shared.directory import hash_token
from shared.enums import CaseType
from shared.logs import configure_logging
from shared.service import serve
from shared.settings import ServiceSettings

TOKENS = {hash_token("local-dev-only-zack-morris-token"): "zack-morris"}
numbers = count(1)
CHICAGO = ZoneInfo("America/Chicago")
app = FastAPI(title="bare intake baseline")


@app.post("/cases", status_code=201)
async def submit(
    body: Annotated[CaseCreate, Body()], authorization: Annotated[str, Header()]
) -> JSONResponse:
    """Authenticate from memory, validate like intake, answer with a number."""
    contact = TOKENS.get(hash_token(authorization.removeprefix("Bearer ")))
    if contact is None:
        raise HTTPException(401, "unknown token")
    case_type = CaseType(body.case_type)
    check_priority(case_type, body.priority)
    details = DETAILS_BY_TYPE[case_type].model_validate(body.model_dump(exclude=set(COMMON_FIELDS)))
    if date_problems(details, body.due_date, datetime.now(CHICAGO).date()):
        raise HTTPException(422, "date rule")
    answer = {"case_id": str(uuid4()), "case_number": next(numbers), "contact_id": contact}
    return JSONResponse(answer, status_code=201)


@app.get("/readyz")
async def readyz() -> dict[str, str]:
    """Always ready."""
    return {"status": "ready"}


if __name__ == "__main__":
    configure_logging("bare", "WARNING", "text")
    serve(app, ServiceSettings(http_port=int(sys.argv[1])))
