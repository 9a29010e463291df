"""The post box's light markup, turned into the HTML the portal sends to intake."""

from portal.logic import post_html


def test_blank_stays_blank() -> None:
    """Nothing typed sends nothing, so a files-only post stays a files-only post."""
    assert post_html("") == ""
    assert post_html(" \n\n  ") == ""


def test_bold_italic_code_and_paragraphs() -> None:
    """**bold**, *italic*, `code` become tags; a blank line parts paragraphs, a newline breaks."""
    typed = "Hi **Zack**, see *Days*\nthen `Save`\n\nThanks"
    assert post_html(typed) == (
        "<p>Hi <strong>Zack</strong>, see <em>Days</em><br>then <code>Save</code></p><p>Thanks</p>"
    )


def test_lists_between_text() -> None:
    """Lines starting with "- " or "1. " make lists; the lines around them stay paragraphs."""
    typed = "Steps:\n- open Calendar\n- pick Days\nthen:\n1. Save\n2. Reload"
    assert post_html(typed) == (
        "<p>Steps:</p><ul><li>open Calendar</li><li>pick Days</li></ul>"
        "<p>then:</p><ol><li>Save</li><li>Reload</li></ol>"
    )


def test_links_only_to_web_and_mail_addresses() -> None:
    """[text](https://...) and mailto: become links; any other scheme stays text."""
    assert post_html("[guide](https://docs.example/a?b=1&c=2)") == (
        '<p><a href="https://docs.example/a?b=1&amp;c=2">guide</a></p>'
    )
    assert post_html("[mail](mailto:help@vendor.example)") == (
        '<p><a href="mailto:help@vendor.example">mail</a></p>'
    )
    assert post_html("[x](javascript:alert(1))") == "<p>[x](javascript:alert(1))</p>"


def test_typed_html_is_text() -> None:
    """HTML typed in the box is shown as written, never run; code keeps its stars."""
    assert post_html('<script>alert("x")</script>') == (
        "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</p>"
    )
    assert post_html("`**as is**` and 2*3*4") == "<p><code>**as is**</code> and 2*3*4</p>"
