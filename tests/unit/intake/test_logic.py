"""Intake's pure decisions: the seeds' rules, sanitizing, sniffing, limits, numbers."""

from datetime import UTC, date, datetime, timedelta

import pytest

from intake import errors, logic
from intake.logic import CaseState, NumberPool, TokenBucket
from shared.cases import DataRestore, RequestConsulting, RequestTechnicalServices, RequestTraining
from shared.directory import Principal
from shared.enums import (
    ActorKind,
    CaseType,
    ContactType,
    Department,
    Module,
    Priority,
    Status,
    Visibility,
)
from shared.events import Contact

TODAY = date(2026, 3, 10)


def contact_principal(
    kind: ContactType = ContactType.AUTHORIZED_SUPPORT, *accounts: str
) -> Principal:
    """A contact of the given districts (Bayside by default)."""
    return Principal(
        kind=ActorKind.CONTACT,
        id="zack",
        name="Zack",
        email="z@x.example",
        contact_type=kind,
        account_ids=list(accounts or ("bayside",)),
    )


def contact(contact_id: str, kind: ContactType, *accounts: str, active: bool = True) -> Contact:
    """A directory contact."""
    return Contact(
        id=contact_id,
        first_name="A",
        last_name="B",
        email="a@b.example",
        contact_type=kind,
        account_ids=list(accounts),
        active=active,
    )


def case(status: Status = Status.NEW, closed_at: datetime | None = None) -> CaseState:
    """A Bayside case owned by zack."""
    return CaseState("c1", "bayside", "zack", status, closed_at, ("zack",))


def test_read_only_cannot_submit() -> None:
    """Read-Only contacts are refused with a message saying who can submit."""
    with pytest.raises(errors.Forbidden, match="Read-Only"):
        logic.check_can_submit(contact_principal(ContactType.READ_ONLY))


def test_account_defaults_to_single_district() -> None:
    """A contact of one district gets it by default."""
    assert logic.choose_account(contact_principal(), None) == "bayside"


def test_several_districts_must_choose() -> None:
    """A contact of two districts must name one, and only one of theirs."""
    two = contact_principal(ContactType.TECHNICAL, "bayside", "ridgemont")
    with pytest.raises(errors.Invalid, match="several districts"):
        logic.choose_account(two, None)
    assert logic.choose_account(two, "ridgemont") == "ridgemont"
    with pytest.raises(errors.Invalid, match="not one of your districts"):
        logic.choose_account(two, "elsewhere")


def test_case_contact_must_be_active_authorized_in_district() -> None:
    """Another case contact must be active, of the district and not Read-Only."""
    logic.check_case_contact("bayside", contact("lisa", ContactType.TECHNICAL, "bayside"), "lisa")
    with pytest.raises(errors.Invalid):
        logic.check_case_contact("bayside", contact("j", ContactType.TECHNICAL, "ridgemont"), "j")
    with pytest.raises(errors.Invalid):
        logic.check_case_contact("bayside", contact("s", ContactType.READ_ONLY, "bayside"), "s")
    with pytest.raises(errors.Invalid):
        logic.check_case_contact(
            "bayside", contact("x", ContactType.TECHNICAL, "bayside", active=False), "x"
        )


@pytest.mark.parametrize("case_type", list(CaseType))
def test_critical_only_for_outage(case_type: CaseType) -> None:
    """Critical passes only for Report an Outage."""
    if case_type is CaseType.REPORT_AN_OUTAGE:
        logic.check_priority(case_type, Priority.CRITICAL)
    else:
        with pytest.raises(errors.Invalid, match="Critical is limited"):
            logic.check_priority(case_type, Priority.CRITICAL)


def restore(lost: date) -> DataRestore:
    """A data restore form with the given loss date."""
    return DataRestore(
        module=Module.ENROLLMENT,
        approximate_date_of_loss=lost,
        reason_for_restore="oops",
        written_permission=True,
    )


@pytest.mark.parametrize(
    ("days_ago", "rule"),
    [(0, None), (30, None), (31, "within_retention"), (-1, "not_in_future")],
)
def test_data_restore_retention(days_ago: int, rule: str | None) -> None:
    """A loss date from today back to 30 days ago passes; older or future dates do not."""
    problems = logic.date_problems(restore(TODAY - timedelta(days=days_ago)), None, TODAY)
    assert [p.rule for p in problems] == ([rule] if rule else [])


def test_preferred_dates_must_be_future() -> None:
    """Training and consult dates must be after today."""
    training = RequestTraining(
        request_type="Other", preferred_training_date=TODAY, preferred_training_date_3=TODAY
    )
    fields = [p.field for p in logic.date_problems(training, None, TODAY)]
    assert fields == ["preferred_training_date", "preferred_training_date_3"]
    consult = RequestConsulting(preferred_consult_date=TODAY + timedelta(days=1))
    assert logic.date_problems(consult, None, TODAY) == []


def test_completion_and_due_dates_not_in_past() -> None:
    """Desired completion and due dates may be today but not before."""
    work = RequestTechnicalServices(
        services_type="Other Services",
        module=Module.REPORTS,
        desired_completion_date=TODAY - timedelta(days=1),
    )
    problems = logic.date_problems(work, TODAY - timedelta(days=1), TODAY)
    assert sorted(p.field for p in problems) == ["desired_completion_date", "due_date"]


def test_sanitize_keeps_allow_list_only() -> None:
    """Scripts, handlers and unsafe URLs go; allowed tags stay and links get rel."""
    html, text = logic.sanitize_html(
        '<p onclick="x()">Hi <strong>there</strong><script>alert(1)</script>'
        '<a href="javascript:alert(1)">x</a><a href="https://a.example">ok</a>'
        '<img src="http://insecure.example/i.png"><img src="data:image/png;base64,AAAA"></p>'
    )
    assert "script" not in html
    assert "onclick" not in html
    assert "javascript" not in html
    assert '<a href="https://a.example" rel="noopener noreferrer nofollow">ok</a>' in html
    assert 'src="http://insecure' not in html
    assert 'src="data:image/png;base64,AAAA"' in html
    assert text.startswith("Hi there")


def test_remote_image_becomes_a_link_to_follow() -> None:
    """A remote <img> (a tracking pixel) turns into a link reading [image: url]."""
    html, text = logic.sanitize_html(
        '<p>see <img alt="x" src="https://t.example/p.gif?a=1&amp;b=2"> and '
        '<IMG SRC="http://t.example/q.png"/></p>'
    )
    assert "<img" not in html
    assert (
        '<a href="https://t.example/p.gif?a=1&amp;b=2" rel="noopener noreferrer nofollow">'
        "[image: https://t.example/p.gif?a=1&amp;b=2]</a>"
    ) in html
    assert '<a href="http://t.example/q.png" rel="noopener noreferrer nofollow">' in html
    assert (
        text == "see [image: https://t.example/p.gif?a=1&b=2] and [image: http://t.example/q.png]"
    )


@pytest.mark.parametrize(
    "source",
    [
        "//t.example/p.gif",
        "/cases/1/attachments/2",
        "javascript:alert(1)",
        "data:image/svg+xml;base64,PHN2Zz4=",
    ],
)
def test_image_with_a_refused_source_disappears(source: str) -> None:
    """Protocol-relative, relative, script and SVG sources leave no image behind."""
    html, _ = logic.sanitize_html(f'<p>a<img src="{source}" alt="q">b</p>')
    assert html == "<p>ab</p>"


def test_inline_raster_image_stays() -> None:
    """A data: PNG loads nothing from the network and is kept."""
    html, _ = logic.sanitize_html('<img src="data:image/png;base64,AAAA" alt="x">')
    assert html == '<img src="data:image/png;base64,AAAA" alt="x">'


@pytest.mark.parametrize(
    "body", ["   \n\t ", "<p> </p><br><script>x</script>", "<p>\u200b\u2060</p>", "<img>"]
)
def test_post_blank_after_sanitizing_is_refused(body: str) -> None:
    """A post without files whose sanitized body shows nothing is refused, naming body."""
    html, text = logic.sanitize_html(body)
    with pytest.raises(errors.Invalid) as refused:
        logic.check_post(text, html, 0)
    assert refused.value.problems[0].field == "body"
    logic.check_post(text, html, 1)  # a file is content enough


@pytest.mark.parametrize(
    ("stored", "served"),
    [
        ("image/png", "image/png"),
        ("image/jpeg", "image/jpeg"),
        ("application/pdf", "application/pdf"),
        ("text/plain", "text/plain"),
        ("text/csv; charset=utf-8", "text/csv"),
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("text/html", "application/octet-stream"),
        ("text/xml", "application/octet-stream"),
        ("application/xhtml+xml", "application/octet-stream"),
        ("image/svg+xml", "application/octet-stream"),
        ("text/javascript", "application/octet-stream"),
        ("application/x-shockwave-flash", "application/octet-stream"),
        ("application/x-unknown", "application/octet-stream"),
        ("", "application/octet-stream"),
    ],
)
def test_only_harmless_types_are_served_as_themselves(stored: str, served: str) -> None:
    """Images (not SVG), PDF, plain text and office files keep their type; all else is bytes."""
    assert logic.served_type(stored) == served


def test_sniff_prefers_bytes_over_declared_type() -> None:
    """A PNG is a PNG whatever was declared; an undetectable non-text file is octet-stream."""
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    assert logic.sniff_type(png, "text/plain") == "image/png"
    assert logic.sniff_type(b"\x00\x01\x02", "application/pdf") == "application/octet-stream"
    assert logic.sniff_type(b"hello\n", "text/csv; charset=utf-8") == "text/csv"
    assert logic.sniff_type(b"\x00\xff binary", "text/plain") == "application/octet-stream"


def test_file_limits() -> None:
    """Ten files pass and eleven do not; 15 MiB passes and one byte more does not."""
    logic.check_file_count(10, 10)
    with pytest.raises(errors.Invalid):
        logic.check_file_count(11, 10)
    logic.check_file_size(0, 15 * 2**20, 15 * 2**20)
    with pytest.raises(errors.TooLarge, match="15728640"):
        logic.check_file_size(0, 15 * 2**20 + 1, 15 * 2**20)


def test_safe_filename() -> None:
    """Paths and quotes are removed from uploaded names."""
    assert logic.safe_filename('../../etc/pa"sswd') == "passwd"
    assert logic.safe_filename(None) == "attachment"


def test_reopen_window_in_district_days() -> None:
    """A case closed 60 days ago reopens; 61 days ago it does not; an open case does not."""
    now = datetime(2026, 3, 10, 18, tzinfo=UTC)
    logic.check_reopen(case(Status.CLOSED, now - timedelta(days=60)), now, "America/Chicago")
    with pytest.raises(errors.Conflict, match="more than 60"):
        logic.check_reopen(case(Status.CLOSED, now - timedelta(days=61)), now, "America/Chicago")
    with pytest.raises(errors.Conflict, match="only closed"):
        logic.check_reopen(case(Status.ASSIGNED), now, "America/Chicago")


def test_closed_case_cannot_be_closed_again() -> None:
    """Closing a closed case is a conflict."""
    with pytest.raises(errors.Conflict):
        logic.check_close(case(Status.CLOSED, datetime.now(UTC)))


def test_other_district_case_is_not_found() -> None:
    """A case of another district is NotFound, as is a missing one."""
    ridgemont = contact_principal(ContactType.AUTHORIZED_SUPPORT, "ridgemont")
    with pytest.raises(errors.NotFound):
        logic.check_visible(ridgemont, case(), "c1")
    with pytest.raises(errors.NotFound):
        logic.check_visible(ridgemont, None, "c1")


def test_recipient_rules_for_authorized_contacts() -> None:
    """Authorized contacts add district contacts, not read-only ones or strangers; owner stays."""
    lisa = contact("lisa", ContactType.TECHNICAL, "bayside")
    screech = contact("screech", ContactType.READ_ONLY, "bayside")
    me = contact_principal()
    assert logic.recipients_to_add(me, case(), ["lisa", "lisa"], {"lisa": lisa}) == ["lisa"]
    with pytest.raises(errors.Invalid, match="Read-Only"):
        logic.recipients_to_add(me, case(), ["screech"], {"screech": screech})
    with pytest.raises(errors.Invalid, match="no contact with id 'stranger' in bayside"):
        logic.recipients_to_add(me, case(), ["stranger"], {})
    with pytest.raises(errors.Invalid, match="owns the case"):
        logic.recipients_to_remove(me, case(), ["zack"])


def test_every_bad_recipient_id_is_reported_at_once() -> None:
    """Each id that cannot be added is one problem naming its place and the district."""
    lisa = contact("lisa-turtle", ContactType.TECHNICAL, "bayside")
    spicoli = contact("jeff-spicoli", ContactType.AUTHORIZED_SUPPORT, "ridgemont")
    wanted = ["Lisa Turtle", "lisa-turtle", "jeff-spicoli"]
    with pytest.raises(errors.Invalid) as raised:
        logic.recipients_to_add(
            contact_principal(),
            case(),
            wanted,
            {"lisa-turtle": lisa, "jeff-spicoli": spicoli},
            "Bayside School",
        )
    assert [(p.field, p.message.split(";")[0]) for p in raised.value.problems] == [
        ("contact_ids[0]", "no contact with id 'Lisa Turtle' in Bayside School"),
        ("contact_ids[2]", "no contact with id 'jeff-spicoli' in Bayside School"),
    ]


def test_case_refs_are_numbers_or_ids() -> None:
    """A case number or a UUID is a reference; anything else is not found, quoted short."""
    assert logic.check_case_ref("1000003") == 1000003
    case_id = "0b5c1a9e-8a3c-4f5e-9d7a-2f1e3c4b5a69"
    assert str(logic.check_case_ref(case_id)) == case_id
    for bad in ("0", "9223372036854775808", "\uff11\uff12\uff13", "x" * 1000):
        with pytest.raises(errors.NotFound) as raised:
            logic.check_case_ref(bad)
        assert len(raised.value.problems[0].message) < 200


def test_read_only_manages_only_themselves() -> None:
    """A Read-Only contact adds or removes only themselves."""
    screech = Principal(
        kind=ActorKind.CONTACT,
        id="screech",
        name="S",
        email="s@x.example",
        contact_type=ContactType.READ_ONLY,
        account_ids=["bayside"],
    )
    assert logic.recipients_to_add(screech, case(), ["screech"], {}) == ["screech"]
    with pytest.raises(errors.Forbidden):
        logic.recipients_to_add(screech, case(), ["lisa"], {})
    after = logic.apply_change(("zack",), ["screech"], [])
    assert after == ["zack", "screech"]
    assert logic.recipients_to_remove(screech, case(), ["screech"]) == []


def test_token_bucket_refills_at_rate() -> None:
    """A burst passes, the next request waits 1/rate, and time refills the bucket."""
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=2, clock=lambda: now[0])
    assert [bucket.take("a"), bucket.take("a")] == [0.0, 0.0]
    assert bucket.take("a") == pytest.approx(0.5)
    assert bucket.take("b") == 0.0
    now[0] = 0.5
    assert bucket.take("a") == 0.0


def test_number_pool_hands_out_in_order_and_reuses_returned() -> None:
    """Numbers of a block come out increasing; a returned number is handed out next."""
    pool = NumberPool()
    pool.add_block(20, 20)
    assert [pool.take(), pool.take()] == [1, 2]
    pool.give_back(1)
    assert pool.take() == 1
    assert len(pool) == 18


def test_fingerprint_ignores_key_order() -> None:
    """The same body in another key order has the same fingerprint; another body does not."""
    assert logic.fingerprint({"a": 1, "b": 2}) == logic.fingerprint({"b": 2, "a": 1})
    assert logic.fingerprint({"a": 1}) != logic.fingerprint({"a": 2})


def test_keyed_post_id_is_per_caller_and_key() -> None:
    """The same caller and key always name one post; another key or caller another post."""
    zack, lisa = contact_principal(), contact_principal().model_copy(update={"id": "lisa"})
    assert logic.keyed_post_id(zack, "k1") == logic.keyed_post_id(zack, "k1")
    assert logic.keyed_post_id(zack, "k1") not in (
        logic.keyed_post_id(zack, "k2"),
        logic.keyed_post_id(lisa, "k1"),
        logic.keyed_case_id(zack, "k1"),
    )
    assert logic.keyed_post_id(zack, None) is None


def test_directory_name_search_and_email_rule() -> None:
    """Every word of ?q= must be in the name; emails go to the district's own contacts."""
    assert logic.name_matches("Lisa Turtle (TESTING)", "turtle LISA")
    assert not logic.name_matches("Lisa Turtle (TESTING)", "lisa morris")
    assert logic.name_matches("Zack Morris (TESTING)", None)
    zack = contact_principal()
    assert logic.shows_email(zack, "bayside")
    assert not logic.shows_email(zack, "ridgemont")


def test_only_staff_write_internal_notes() -> None:
    """A contact, authorized or Read-Only, asking for an internal note gets 403 saying only
    staff can write them; a public post passes, and staff may write either."""
    staff = contact_principal().model_copy(update={"kind": ActorKind.STAFF, "contact_type": None})
    for contact in (contact_principal(), contact_principal(ContactType.READ_ONLY)):
        with pytest.raises(errors.Forbidden) as refused:
            logic.check_visibility(contact, Visibility.INTERNAL)
        assert refused.value.status == 403
        assert "only staff can write internal notes" in str(refused.value)
        logic.check_visibility(contact, Visibility.PUBLIC)
    logic.check_visibility(staff, Visibility.INTERNAL)


def test_internal_attachments_are_readable_by_staff_only() -> None:
    """Staff read internal and public files; a contact only public ones (and old files
    stored before visibility existed)."""
    staff = contact_principal().model_copy(update={"kind": ActorKind.STAFF, "contact_type": None})
    assert logic.readable(staff, "internal")
    assert not logic.readable(contact_principal(), "internal")
    assert logic.readable(contact_principal(), "public")
    assert logic.readable(contact_principal(), None)


def _staff(*departments: Department, supervisor: bool = False) -> Principal:
    return Principal(
        kind=ActorKind.STAFF,
        id="staff-training",
        name="Tia Training",
        email="tia@vendor.example",
        departments=list(departments),
        supervisor=supervisor,
    )


def test_staff_post_only_on_cases_routed_to_their_departments() -> None:
    """Tia (Training) is refused on a Campus Support case, with who may post; a supervisor,
    Campus Support staff, a contact and any staff on a case not routed yet are not."""
    routed = CaseState("c1", "bayside", "zack", Status.NEW, department=Department.CAMPUS_SUPPORT)
    with pytest.raises(errors.Forbidden) as refused:
        logic.check_staff_department(_staff(Department.TRAINING), routed)
    assert "routed to Campus Support and Tia Training is staff of Training" in str(
        refused.value.problems[0].message
    )
    logic.check_staff_department(_staff(Department.TRAINING, supervisor=True), routed)
    logic.check_staff_department(_staff(Department.CAMPUS_SUPPORT), routed)
    logic.check_staff_department(contact_principal(), routed)
    unrouted = CaseState("c2", "bayside", "zack", Status.NEW)
    logic.check_staff_department(_staff(Department.TRAINING), unrouted)
