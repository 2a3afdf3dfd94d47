<?xml version="1.0" encoding="UTF-8"?>
<!--
  trajectd-report-html.xsl: a trajectd report (XML, schema version 2,
  namespace urn:trajectd:report:2) as one self-contained, printable XHTML
  page: inline CSS and SVG, no script, nothing loaded from elsewhere. The
  XML is the single source; this stylesheet only arranges and formats it.

  Parameter lang: 'nl' (default) or 'en'. Every word on the page comes from
  trajectd-report-i18n.xml beside this file; money is formatted from its
  exact decimal text (never through a floating-point number), dates and
  numbers as the language writes them. Charts are computed here: progress
  bars per obligation, the cumulative series as lines, the budget as bars,
  days to help against the baseline.

  Used by trajectctl report with the format html (compiled into
  libtraject, lib/report_html.c); also runs with xsltproc and its string
  parameter lang (docs/reports.md shows the command and describes the page).
-->
<xsl:stylesheet version="1.0"
                xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:r="urn:trajectd:report:2"
                xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                xmlns="http://www.w3.org/1999/xhtml"
                exclude-result-prefixes="r xsi">

  <xsl:output method="xml" encoding="UTF-8" omit-xml-declaration="yes" indent="no"
              doctype-system="about:legacy-compat"/>

  <xsl:param name="lang" select="'nl'"/>
  <xsl:variable name="L">
    <xsl:choose>
      <xsl:when test="$lang = 'en'">en</xsl:when>
      <xsl:otherwise>nl</xsl:otherwise>
    </xsl:choose>
  </xsl:variable>
  <xsl:variable name="dict" select="document('trajectd-report-i18n.xml')/dictionary"/>

  <xsl:variable name="doc" select="/r:report"/>
  <xsl:variable name="ind" select="/r:report/r:indicators"/>
  <xsl:variable name="public" select="/r:report/r:report/r:public = 'true'"/>

  <!-- The page's style: screen and A4 print. (No '>' in it: it is text in XML.) -->
  <xsl:variable name="css">
:root { --met: #1b7f3b; --on_track: #2f6fb3; --at_risk: #c77700; --not_met: #c0392b; --withheld: #7a7a7a; --ink: #1d2733; --muted: #5d6b7a; --line: #d9dee4; --soft: #f3f5f7; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: var(--ink); margin: 0 auto; max-width: 980px; padding: 28px 32px; font-size: 14px; line-height: 1.45; background: #fff; }
header { border-bottom: 3px solid var(--ink); padding-bottom: 12px; margin-bottom: 18px; }
.kicker { margin: 0; color: var(--muted); text-transform: uppercase; letter-spacing: .06em; font-size: 12px; }
h1 { margin: 4px 0 2px; font-size: 26px; }
h2 { font-size: 17px; margin: 0 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.sub { margin: 0 0 10px; color: var(--muted); }
.badge { font-size: 13px; vertical-align: middle; background: var(--ink); color: #fff; padding: 2px 8px; border-radius: 10px; }
table.meta { border-collapse: collapse; width: 100%; font-size: 13px; }
table.meta th { text-align: left; color: var(--muted); font-weight: normal; padding: 2px 10px 2px 0; white-space: nowrap; }
table.meta td { padding: 2px 18px 2px 0; }
.notice { background: #fff6e0; border-left: 4px solid var(--at_risk); padding: 8px 12px; margin: 12px 0 0; font-size: 13px; }
section { margin: 0 0 22px; }
.obl { border: 1px solid var(--line); border-left: 6px solid var(--withheld); border-radius: 4px; padding: 8px 12px; margin-bottom: 8px; }
.obl.met { border-left-color: var(--met); } .obl.on_track { border-left-color: var(--on_track); }
.obl.at_risk { border-left-color: var(--at_risk); } .obl.not_met { border-left-color: var(--not_met); }
.obl-head { display: flex; gap: 10px; align-items: baseline; }
.obl-id { font-weight: bold; min-width: 2.5em; }
.obl-text { flex: 1; }
.obl-body { display: flex; gap: 18px; align-items: center; margin-top: 4px; }
.obl-figs { flex: 1; }
.pill { font-size: 12px; color: #fff; padding: 1px 9px; border-radius: 10px; white-space: nowrap; background: var(--withheld); }
.pill.met { background: var(--met); } .pill.on_track { background: var(--on_track); }
.pill.at_risk { background: var(--at_risk); } .pill.not_met { background: var(--not_met); }
svg .track { fill: var(--soft); stroke: var(--line); }
svg .fill.met, svg .b-amount_granted { fill: var(--met); }
svg .fill.on_track { fill: var(--on_track); } svg .fill.at_risk { fill: var(--at_risk); }
svg .fill.not_met { fill: var(--not_met); } svg .fill { fill: var(--withheld); }
svg .proj { fill: var(--on_track); opacity: .28; } svg .proj.at_risk { fill: var(--at_risk); } svg .proj.not_met { fill: var(--not_met); }
svg .target { stroke: var(--ink); stroke-width: 2.5; }
.legend .key { font-weight: bold; } .key.trajectories_started { color: #2f6fb3; } .key.trajectories_helped { color: #1b7f3b; }
.key.trajectories_closed { color: #8e44ad; } .key.children_helped { color: #c77700; }
.legend { font-size: 12px; color: var(--muted); margin: 4px 0; white-space: pre-wrap; }
.key.value { color: var(--on_track); } .key.proj { color: #b9cde6; } .key.target { color: var(--ink); font-weight: bold; }
.explanation { margin: 8px 0 2px; padding: 6px 10px; background: var(--soft); border-left: 3px solid var(--muted); white-space: pre-wrap; }
.explain-slot { margin: 6px 0 0; color: var(--muted); font-style: italic; font-size: 12px; }
.nobar { color: var(--muted); font-style: italic; margin: 0; }
.tiles { display: flex; flex-wrap: wrap; gap: 10px; }
.tile { flex: 1 1 130px; border: 1px solid var(--line); border-radius: 4px; padding: 10px 12px; background: var(--soft); }
.tile .big { font-size: 26px; font-weight: bold; } .tile .of { color: var(--muted); }
.lbl { color: var(--muted); font-size: 12px; }
.small { font-size: 12px; color: var(--muted); }
svg.chart text { font-family: inherit; }
svg .grid { stroke: var(--line); } svg .axis-line { stroke: var(--ink); }
svg .axis { font-size: 11px; fill: var(--muted); } svg .legend-text { font-size: 12px; fill: var(--ink); }
svg .goal { stroke: var(--not_met); stroke-dasharray: 5 4; } svg .goal-label { font-size: 11px; fill: var(--not_met); }
svg polyline.line { fill: none; stroke-width: 2.5; } svg line.line { stroke-width: 3; }
svg .trajectories_started { stroke: #2f6fb3; fill: #2f6fb3; } svg .trajectories_helped { stroke: #1b7f3b; fill: #1b7f3b; }
svg .trajectories_closed { stroke: #8e44ad; fill: #8e44ad; } svg .children_helped { stroke: #c77700; fill: #c77700; }
svg polyline.line { fill: none; }
table.bars { border-collapse: collapse; } table.bars th { text-align: left; font-weight: normal; padding: 3px 12px 3px 0; white-space: nowrap; }
table.bars td { padding: 3px 8px 3px 0; }
svg .b-amount_committed { fill: var(--on_track); } svg .b-amount_settled { fill: #8e44ad; } svg .b-costs_total { fill: var(--at_risk); }
svg .d-median_days_to_help { fill: var(--on_track); } svg .d-p90_days_to_help { fill: #8eb0d8; } svg .d-days_to_help { fill: var(--withheld); }
.num { text-align: right; white-space: nowrap; }
.money { white-space: nowrap; }
ul.warnings { margin: 0; padding-left: 20px; } ul.warnings li { color: #7a4b00; }
.ok { color: var(--met); }
table.fin { border-collapse: collapse; min-width: 60%; }
table.fin th { text-align: left; font-weight: normal; padding: 4px 24px 4px 0; border-bottom: 1px solid var(--line); }
table.fin td { padding: 4px 0; border-bottom: 1px solid var(--line); }
table.fin tr.total th, table.fin tr.total td { font-weight: bold; border-top: 2px solid var(--ink); }
table.list { border-collapse: collapse; width: 100%; font-size: 13px; }
table.list th { text-align: left; border-bottom: 2px solid var(--ink); padding: 4px 8px 4px 0; }
table.list td { border-bottom: 1px solid var(--line); padding: 3px 8px 3px 0; }
table.list td.sub { padding-left: 14px; color: var(--muted); }
table.list tfoot th, table.list tfoot td { border-top: 2px solid var(--ink); border-bottom: none; font-weight: bold; }
tr.notrealised td { color: var(--muted); }
.sup { font-weight: bold; color: var(--withheld); border-bottom: 1px dotted var(--withheld); cursor: help; }
.na { color: var(--muted); }
footer { margin-top: 26px; padding-top: 8px; border-top: 1px solid var(--line); color: var(--muted); font-size: 11px; }
@page { size: A4; margin: 14mm 12mm 16mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 11.5px; }
  section, .obl, .tile, tr, blockquote { break-inside: avoid; page-break-inside: avoid; }
  h2 { break-after: avoid; page-break-after: avoid; }
  thead { display: table-header-group; } tfoot { display: table-footer-group; }
  section.settlement, section.indicators { break-before: page; page-break-before: always; }
  .badge, .pill, .notice, svg, .tile { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
  </xsl:variable>

  <!-- ===== words, numbers, money, dates ===== -->

  <xsl:template name="t">
    <xsl:param name="k"/>
    <xsl:variable name="e" select="$dict/s[@id = $k]"/>
    <xsl:choose>
      <xsl:when test="$e"><xsl:value-of select="$e/*[local-name() = $L]"/></xsl:when>
      <xsl:otherwise><xsl:value-of select="$k"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- true when v is a number (not null, not a suppression marker) -->
  <xsl:template name="is-num">
    <xsl:param name="v"/>
    <xsl:if test="string($v) != '' and string(number($v)) != 'NaN'">1</xsl:if>
  </xsl:template>

  <!-- digits grouped in threes from the right: 150000 -> 150.000 (nl) / 150,000 (en) -->
  <xsl:template name="group">
    <xsl:param name="d"/>
    <xsl:param name="sep"/>
    <xsl:choose>
      <xsl:when test="string-length($d) &lt;= 3"><xsl:value-of select="$d"/></xsl:when>
      <xsl:otherwise>
        <xsl:call-template name="group">
          <xsl:with-param name="d" select="substring($d, 1, string-length($d) - 3)"/>
          <xsl:with-param name="sep" select="$sep"/>
        </xsl:call-template>
        <xsl:value-of select="concat($sep, substring($d, string-length($d) - 2))"/>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- a withheld or unknown value, as the reader sees it -->
  <xsl:template name="missing">
    <xsl:param name="v"/>
    <xsl:choose>
      <xsl:when test="string($v) = ''">
        <span class="na"><xsl:call-template name="t"><xsl:with-param name="k" select="'na'"/></xsl:call-template></span>
      </xsl:when>
      <xsl:when test="string($v) = 'x'">
        <span class="sup" title="{$dict/s[@id = 'sup.x.title']/*[local-name() = $L]}">x</span>
      </xsl:when>
      <xsl:otherwise>
        <span class="sup" title="{$dict/s[@id = 'sup.small.title']/*[local-name() = $L]}"><xsl:value-of select="$v"/></span>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- exact money text "-150000.50" as "€ -150.000,50" (nl) or "-€150,000.50" (en) -->
  <xsl:template name="money">
    <xsl:param name="v"/>
    <xsl:variable name="isnum"><xsl:call-template name="is-num"><xsl:with-param name="v" select="$v"/></xsl:call-template></xsl:variable>
    <xsl:choose>
      <xsl:when test="$isnum != '1'">
        <xsl:call-template name="missing"><xsl:with-param name="v" select="$v"/></xsl:call-template>
      </xsl:when>
      <xsl:otherwise>
        <xsl:variable name="s" select="string($v)"/>
        <xsl:variable name="neg" select="starts-with($s, '-')"/>
        <xsl:variable name="abs" select="translate($s, '-', '')"/>
        <xsl:variable name="int" select="substring-before($abs, '.')"/>
        <xsl:variable name="frac" select="substring-after($abs, '.')"/>
        <xsl:variable name="cur" select="string($doc/r:grant/r:currency)"/>
        <xsl:variable name="sym">
          <xsl:choose>
            <xsl:when test="$cur = 'EUR'">€</xsl:when>
            <xsl:otherwise><xsl:value-of select="$cur"/></xsl:otherwise>
          </xsl:choose>
        </xsl:variable>
        <xsl:variable name="grouped">
          <xsl:call-template name="group">
            <xsl:with-param name="d" select="$int"/>
            <xsl:with-param name="sep"><xsl:choose><xsl:when test="$L = 'en'">,</xsl:when><xsl:otherwise>.</xsl:otherwise></xsl:choose></xsl:with-param>
          </xsl:call-template>
        </xsl:variable>
        <span class="money">
          <xsl:choose>
            <xsl:when test="$L = 'en' and $cur = 'EUR'">
              <xsl:if test="$neg">-</xsl:if><xsl:value-of select="concat($sym, $grouped, '.', $frac)"/>
            </xsl:when>
            <xsl:when test="$L = 'en'">
              <xsl:value-of select="concat($sym, '&#160;')"/><xsl:if test="$neg">-</xsl:if><xsl:value-of select="concat($grouped, '.', $frac)"/>
            </xsl:when>
            <xsl:otherwise>
              <xsl:value-of select="concat($sym, '&#160;')"/><xsl:if test="$neg">-</xsl:if><xsl:value-of select="concat($grouped, ',', $frac)"/>
            </xsl:otherwise>
          </xsl:choose>
        </span>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- an exact decimal text with the language's decimal sign and grouping -->
  <xsl:template name="decimal">
    <xsl:param name="s"/>
    <xsl:variable name="neg" select="starts-with($s, '-')"/>
    <xsl:variable name="abs" select="translate($s, '-', '')"/>
    <xsl:variable name="int">
      <xsl:choose>
        <xsl:when test="contains($abs, '.')"><xsl:value-of select="substring-before($abs, '.')"/></xsl:when>
        <xsl:otherwise><xsl:value-of select="$abs"/></xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:if test="$neg">-</xsl:if>
    <xsl:call-template name="group">
      <xsl:with-param name="d" select="$int"/>
      <xsl:with-param name="sep"><xsl:choose><xsl:when test="$L = 'en'">,</xsl:when><xsl:otherwise>.</xsl:otherwise></xsl:choose></xsl:with-param>
    </xsl:call-template>
    <xsl:if test="contains($abs, '.')">
      <xsl:value-of select="concat(substring(',.', 1 + number($L = 'en'), 1), substring-after($abs, '.'))"/>
    </xsl:if>
  </xsl:template>

  <!-- a count or plain number -->
  <xsl:template name="num">
    <xsl:param name="v"/>
    <xsl:variable name="isnum"><xsl:call-template name="is-num"><xsl:with-param name="v" select="$v"/></xsl:call-template></xsl:variable>
    <xsl:choose>
      <xsl:when test="$isnum = '1'">
        <xsl:call-template name="decimal"><xsl:with-param name="s" select="string($v)"/></xsl:call-template>
      </xsl:when>
      <xsl:otherwise><xsl:call-template name="missing"><xsl:with-param name="v" select="$v"/></xsl:call-template></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- a rate 0..1 as a percentage: 0.6429 -> 64,29% -->
  <xsl:template name="pct">
    <xsl:param name="v"/>
    <xsl:variable name="isnum"><xsl:call-template name="is-num"><xsl:with-param name="v" select="$v"/></xsl:call-template></xsl:variable>
    <xsl:choose>
      <xsl:when test="$isnum = '1'">
        <xsl:call-template name="decimal">
          <xsl:with-param name="s" select="format-number(round(number($v) * 10000) div 100, '0.##')"/>
        </xsl:call-template>
        <xsl:text>%</xsl:text>
      </xsl:when>
      <xsl:otherwise><xsl:call-template name="missing"><xsl:with-param name="v" select="$v"/></xsl:call-template></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template name="date">
    <xsl:param name="d"/>
    <xsl:param name="short" select="false()"/>
    <xsl:choose>
      <xsl:when test="string-length($d) &lt; 10">
        <xsl:call-template name="missing"><xsl:with-param name="v" select="$d"/></xsl:call-template>
      </xsl:when>
      <xsl:otherwise>
        <xsl:variable name="m" select="number(substring($d, 6, 2))"/>
        <xsl:variable name="day" select="number(substring($d, 9, 2))"/>
        <xsl:variable name="name" select="$dict/month[@n = $m]/*[local-name() = $L]"/>
        <xsl:choose>
          <xsl:when test="$short"><xsl:value-of select="concat($day, ' ', $dict/month[@n = $m]/abbr/*[local-name() = $L], ' ', substring($d, 1, 4))"/></xsl:when>
          <xsl:otherwise><xsl:value-of select="concat($day, ' ', $name, ' ', substring($d, 1, 4))"/></xsl:otherwise>
        </xsl:choose>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- 2011-10-12T06:00:00Z as "12 oktober 2011, 06:00 UTC" -->
  <xsl:template name="timestamp">
    <xsl:param name="ts"/>
    <xsl:call-template name="date"><xsl:with-param name="d" select="substring($ts, 1, 10)"/></xsl:call-template>
    <xsl:value-of select="concat(', ', substring($ts, 12, 5), ' UTC')"/>
  </xsl:template>

  <!-- an indicator's value in its own kind (count, rate, days, money) -->
  <xsl:template name="value-of-kind">
    <xsl:param name="name"/>
    <xsl:param name="v"/>
    <xsl:choose>
      <xsl:when test="contains($name, 'rate')">
        <xsl:call-template name="pct"><xsl:with-param name="v" select="$v"/></xsl:call-template>
      </xsl:when>
      <xsl:when test="$name = 'costs_total' or $name = 'amount_committed' or $name = 'amount_settled'
                      or $name = 'budget_remaining' or $name = 'cost_per_child_helped'">
        <xsl:call-template name="money"><xsl:with-param name="v" select="$v"/></xsl:call-template>
      </xsl:when>
      <xsl:otherwise>
        <xsl:call-template name="num"><xsl:with-param name="v" select="$v"/></xsl:call-template>
        <xsl:variable name="isnum"><xsl:call-template name="is-num"><xsl:with-param name="v" select="$v"/></xsl:call-template></xsl:variable>
        <xsl:if test="contains($name, 'days') and $isnum = '1'">
          <xsl:text>&#160;</xsl:text>
          <xsl:call-template name="t"><xsl:with-param name="k" select="'unit.days'"/></xsl:call-template>
        </xsl:if>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- the larger of the numeric values in a node-set, or 0 -->
  <xsl:template name="max">
    <xsl:param name="nodes"/>
    <xsl:variable name="m">
      <xsl:for-each select="$nodes[string(number(.)) != 'NaN']">
        <xsl:sort select="number(.)" data-type="number" order="descending"/>
        <xsl:if test="position() = 1"><xsl:value-of select="number(.)"/></xsl:if>
      </xsl:for-each>
    </xsl:variable>
    <xsl:choose>
      <xsl:when test="string(number($m)) = 'NaN'">0</xsl:when>
      <xsl:otherwise><xsl:value-of select="$m"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- a round step for an axis up to max: 1, 2, 5, 10, 20, 50, ... (at most 6 steps) -->
  <xsl:template name="step">
    <xsl:param name="max"/>
    <xsl:param name="s" select="1"/>
    <xsl:choose>
      <xsl:when test="$max div $s &lt;= 6"><xsl:value-of select="$s"/></xsl:when>
      <xsl:when test="$max div ($s * 2) &lt;= 6"><xsl:value-of select="$s * 2"/></xsl:when>
      <xsl:when test="$max div ($s * 5) &lt;= 6"><xsl:value-of select="$s * 5"/></xsl:when>
      <xsl:otherwise>
        <xsl:call-template name="step">
          <xsl:with-param name="max" select="$max"/>
          <xsl:with-param name="s" select="$s * 10"/>
        </xsl:call-template>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template name="status-pill">
    <xsl:param name="s"/>
    <xsl:variable name="cls">
      <xsl:choose>
        <xsl:when test="$s = 'met' or $s = 'not_met' or $s = 'on_track' or $s = 'at_risk'"><xsl:value-of select="$s"/></xsl:when>
        <xsl:otherwise>withheld</xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <span class="pill {$cls}">
      <xsl:call-template name="t"><xsl:with-param name="k" select="concat('status.', $cls)"/></xsl:call-template>
    </span>
  </xsl:template>

  <!-- ===== the page ===== -->

  <xsl:template match="/">
    <xsl:apply-templates select="r:report"/>
  </xsl:template>

  <xsl:template match="/r:report">
    <xsl:variable name="kind" select="r:report/r:kind"/>
    <html lang="{$L}">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="generator" content="trajectd (trajectd-report-html.xsl)"/>
        <title>
          <xsl:call-template name="t"><xsl:with-param name="k" select="concat('title.', $kind)"/></xsl:call-template>
          <xsl:value-of select="concat(' ', r:grant/r:id, ' ')"/>
          <xsl:call-template name="date"><xsl:with-param name="d" select="r:report/r:as_of"/></xsl:call-template>
        </title>
        <style><xsl:value-of select="$css"/></style>
      </head>
      <body>
        <xsl:call-template name="header"/>
        <xsl:call-template name="obligations"/>
        <xsl:call-template name="figures"/>
        <xsl:call-template name="series"/>
        <xsl:call-template name="budget"/>
        <xsl:call-template name="speed"/>
        <xsl:call-template name="quality"/>
        <xsl:if test="r:determination">
          <xsl:call-template name="financial"/>
          <xsl:if test="r:determination/r:settlement">
            <xsl:call-template name="settlement"/>
          </xsl:if>
        </xsl:if>
        <xsl:call-template name="all-indicators"/>
        <footer>
          <p>
            <xsl:call-template name="t"><xsl:with-param name="k" select="'footer'"/></xsl:call-template>
            <xsl:value-of select="concat(' urn:trajectd:report:2 (schemaVersion ', @schemaVersion, ').')"/>
          </p>
        </footer>
      </body>
    </html>
  </xsl:template>

  <xsl:template name="header">
    <xsl:variable name="rep" select="r:report"/>
    <header>
      <p class="kicker">
        <xsl:value-of select="r:grant/r:grantor"/>
        <xsl:text> → </xsl:text>
        <xsl:value-of select="r:grant/r:grantee"/>
      </p>
      <h1>
        <xsl:call-template name="t"><xsl:with-param name="k" select="concat('title.', $rep/r:kind)"/></xsl:call-template>
        <xsl:if test="$public">
          <xsl:text> </xsl:text>
          <span class="badge"><xsl:call-template name="t"><xsl:with-param name="k" select="'public.badge'"/></xsl:call-template></span>
        </xsl:if>
      </h1>
      <p class="sub">
        <xsl:if test="r:grant/r:title/text()"><xsl:value-of select="concat(r:grant/r:title, ' · ')"/></xsl:if>
        <xsl:value-of select="r:grant/r:id"/>
      </p>
      <table class="meta">
        <tr>
          <th><xsl:call-template name="t"><xsl:with-param name="k" select="'meta.as_of'"/></xsl:call-template></th>
          <td><strong><xsl:call-template name="date"><xsl:with-param name="d" select="$rep/r:as_of"/></xsl:call-template></strong></td>
          <th><xsl:call-template name="t"><xsl:with-param name="k" select="'meta.period'"/></xsl:call-template></th>
          <td>
            <xsl:call-template name="date"><xsl:with-param name="d" select="r:grant/r:period/r:start"/></xsl:call-template>
            <xsl:text> – </xsl:text>
            <xsl:call-template name="date"><xsl:with-param name="d" select="r:grant/r:period/r:end"/></xsl:call-template>
          </td>
        </tr>
        <tr>
          <th><xsl:call-template name="t"><xsl:with-param name="k" select="'meta.report'"/></xsl:call-template></th>
          <td>
            <xsl:choose>
              <xsl:when test="$rep/r:id/text()"><xsl:value-of select="$rep/r:id"/></xsl:when>
              <xsl:otherwise><xsl:call-template name="t"><xsl:with-param name="k" select="'meta.adhoc'"/></xsl:call-template></xsl:otherwise>
            </xsl:choose>
            <xsl:if test="$rep/r:version/text()">
              <xsl:value-of select="concat(' (', $dict/s[@id = 'meta.version']/*[local-name() = $L], ' ', $rep/r:version, ')')"/>
            </xsl:if>
          </td>
          <th><xsl:call-template name="t"><xsl:with-param name="k" select="'meta.due'"/></xsl:call-template></th>
          <td>
            <xsl:choose>
              <xsl:when test="$rep/r:due/text()"><xsl:call-template name="date"><xsl:with-param name="d" select="$rep/r:due"/></xsl:call-template></xsl:when>
              <xsl:otherwise>–</xsl:otherwise>
            </xsl:choose>
          </td>
        </tr>
        <tr>
          <th><xsl:call-template name="t"><xsl:with-param name="k" select="'meta.known_at'"/></xsl:call-template></th>
          <td><xsl:call-template name="timestamp"><xsl:with-param name="ts" select="$rep/r:known_at"/></xsl:call-template></td>
          <th><xsl:call-template name="t"><xsl:with-param name="k" select="'meta.granted'"/></xsl:call-template></th>
          <td>
            <xsl:call-template name="money"><xsl:with-param name="v" select="r:grant/r:amount_granted"/></xsl:call-template>
            <xsl:value-of select="concat(' · ', r:grant/r:target_trajectories, ' ')"/>
            <xsl:call-template name="t"><xsl:with-param name="k" select="'unit.trajectories'"/></xsl:call-template>
            <xsl:text> × </xsl:text>
            <xsl:call-template name="money"><xsl:with-param name="v" select="r:grant/r:amount_per_trajectory"/></xsl:call-template>
          </td>
        </tr>
      </table>
      <xsl:if test="$public">
        <p class="notice">
          <xsl:call-template name="t"><xsl:with-param name="k" select="'public.notice1'"/></xsl:call-template>
          <xsl:value-of select="concat(' ', $rep/r:suppress_below - 1, ' ')"/>
          <xsl:call-template name="t"><xsl:with-param name="k" select="'public.notice2'"/></xsl:call-template>
          <xsl:value-of select="concat(' &lt;', $rep/r:suppress_below, '; ')"/>
          <xsl:call-template name="t"><xsl:with-param name="k" select="'public.notice3'"/></xsl:call-template>
        </p>
      </xsl:if>
    </header>
  </xsl:template>

  <!-- ===== obligations: a progress bar each ===== -->

  <xsl:template name="obligations">
    <section class="obligations">
      <h2><xsl:call-template name="t"><xsl:with-param name="k" select="'h.obligations'"/></xsl:call-template></h2>
      <xsl:choose>
        <xsl:when test="not(r:obligations/r:obligation)">
          <p><xsl:call-template name="t"><xsl:with-param name="k" select="'obl.none'"/></xsl:call-template></p>
        </xsl:when>
        <xsl:otherwise>
          <xsl:for-each select="r:obligations/r:obligation">
            <xsl:call-template name="obligation"/>
          </xsl:for-each>
          <p class="legend">
            <span class="key value">■</span><xsl:text> </xsl:text>
            <xsl:call-template name="t"><xsl:with-param name="k" select="'obl.legend.value'"/></xsl:call-template>
            <xsl:text>   </xsl:text>
            <span class="key proj">■</span><xsl:text> </xsl:text>
            <xsl:call-template name="t"><xsl:with-param name="k" select="'obl.legend.projection'"/></xsl:call-template>
            <xsl:text>   </xsl:text>
            <span class="key target">┃</span><xsl:text> </xsl:text>
            <xsl:call-template name="t"><xsl:with-param name="k" select="'obl.legend.target'"/></xsl:call-template>
          </p>
        </xsl:otherwise>
      </xsl:choose>
    </section>
  </xsl:template>

  <xsl:template name="obligation">
    <xsl:variable name="name" select="string(r:indicator)"/>
    <xsl:variable name="vnum"><xsl:call-template name="is-num"><xsl:with-param name="v" select="r:value"/></xsl:call-template></xsl:variable>
    <xsl:variable name="pnum"><xsl:call-template name="is-num"><xsl:with-param name="v" select="r:projection"/></xsl:call-template></xsl:variable>
    <xsl:variable name="future" select="number(translate(r:due, '-', '')) &gt; number(translate($doc/r:report/r:as_of, '-', ''))"/>
    <div class="obl {r:status}">
      <div class="obl-head">
        <span class="obl-id"><xsl:value-of select="r:id"/></span>
        <span class="obl-text">
          <xsl:choose>
            <xsl:when test="r:description/text()"><xsl:value-of select="r:description"/></xsl:when>
            <xsl:otherwise><xsl:call-template name="t"><xsl:with-param name="k" select="concat('ind.', $name)"/></xsl:call-template></xsl:otherwise>
          </xsl:choose>
        </span>
        <xsl:call-template name="status-pill"><xsl:with-param name="s" select="string(r:status)"/></xsl:call-template>
      </div>
      <div class="obl-body">
        <div class="obl-figs">
          <span class="lbl"><xsl:call-template name="t"><xsl:with-param name="k" select="concat('ind.', $name)"/></xsl:call-template></span>
          <br/>
          <strong><xsl:call-template name="value-of-kind"><xsl:with-param name="name" select="$name"/><xsl:with-param name="v" select="r:value"/></xsl:call-template></strong>
          <xsl:choose>
            <xsl:when test="r:op = '&gt;='"> ≥ </xsl:when>
            <xsl:when test="r:op = '&lt;='"> ≤ </xsl:when>
            <xsl:when test="r:op = '=='"> = </xsl:when>
            <xsl:otherwise><xsl:value-of select="concat(' ', r:op, ' ')"/></xsl:otherwise>
          </xsl:choose>
          <xsl:call-template name="value-of-kind"><xsl:with-param name="name" select="$name"/><xsl:with-param name="v" select="r:target"/></xsl:call-template>
          <br/>
          <span class="small">
            <xsl:call-template name="t"><xsl:with-param name="k" select="'obl.due'"/></xsl:call-template>
            <xsl:text> </xsl:text>
            <xsl:call-template name="date"><xsl:with-param name="d" select="r:due"/></xsl:call-template>
            <xsl:if test="$future and $pnum = '1' and string(r:projection) != string(r:value)">
              <xsl:text> · </xsl:text>
              <xsl:call-template name="t"><xsl:with-param name="k" select="'obl.projection'"/></xsl:call-template>
              <xsl:text> </xsl:text>
              <xsl:call-template name="value-of-kind"><xsl:with-param name="name" select="$name"/><xsl:with-param name="v" select="r:projection"/></xsl:call-template>
            </xsl:if>
          </span>
        </div>
        <xsl:choose>
          <xsl:when test="$vnum = '1'">
            <xsl:call-template name="obl-bar">
              <xsl:with-param name="value" select="number(r:value)"/>
              <xsl:with-param name="target" select="number(r:target)"/>
              <xsl:with-param name="projection">
                <xsl:choose>
                  <xsl:when test="$future and $pnum = '1'"><xsl:value-of select="number(r:projection)"/></xsl:when>
                  <xsl:otherwise><xsl:value-of select="number(r:value)"/></xsl:otherwise>
                </xsl:choose>
              </xsl:with-param>
              <xsl:with-param name="status" select="string(r:status)"/>
            </xsl:call-template>
          </xsl:when>
          <xsl:otherwise>
            <p class="nobar">
              <xsl:choose>
                <xsl:when test="string(r:value) = ''"><xsl:call-template name="t"><xsl:with-param name="k" select="'obl.nobar.unknown'"/></xsl:call-template></xsl:when>
                <xsl:otherwise><xsl:call-template name="t"><xsl:with-param name="k" select="'obl.nobar.withheld'"/></xsl:call-template></xsl:otherwise>
              </xsl:choose>
            </p>
          </xsl:otherwise>
        </xsl:choose>
      </div>
      <xsl:if test="r:explanation/text()">
        <blockquote class="explanation">
          <span class="lbl">
            <xsl:call-template name="t"><xsl:with-param name="k" select="'obl.explanation'"/></xsl:call-template>
            <xsl:text> (</xsl:text>
            <xsl:call-template name="date"><xsl:with-param name="d" select="substring(r:explained_at, 1, 10)"/></xsl:call-template>
            <xsl:text>)</xsl:text>
          </span>
          <br/>
          <xsl:value-of select="r:explanation"/>
        </blockquote>
      </xsl:if>
      <xsl:if test="not(r:explanation/text()) and not($public) and (r:status = 'not_met' or r:status = 'at_risk')">
        <p class="explain-slot">
          <xsl:call-template name="t"><xsl:with-param name="k" select="'obl.explain.slot'"/></xsl:call-template>
        </p>
      </xsl:if>
    </div>
  </xsl:template>

  <!-- value (solid), projection (light) and target (a line) on one scale -->
  <xsl:template name="obl-bar">
    <xsl:param name="value"/>
    <xsl:param name="target"/>
    <xsl:param name="projection"/>
    <xsl:param name="status"/>
    <xsl:variable name="w" select="360"/>
    <xsl:variable name="hi0">
      <xsl:choose>
        <xsl:when test="$value &gt;= $target and $value &gt;= $projection"><xsl:value-of select="$value"/></xsl:when>
        <xsl:when test="$target &gt;= $projection"><xsl:value-of select="$target"/></xsl:when>
        <xsl:otherwise><xsl:value-of select="$projection"/></xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="lo0">
      <xsl:choose>
        <xsl:when test="$value &lt;= $target and $value &lt;= $projection and $value &lt; 0"><xsl:value-of select="$value"/></xsl:when>
        <xsl:when test="$target &lt;= $projection and $target &lt; 0"><xsl:value-of select="$target"/></xsl:when>
        <xsl:when test="$projection &lt; 0"><xsl:value-of select="$projection"/></xsl:when>
        <xsl:otherwise>0</xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="span">
      <xsl:choose>
        <xsl:when test="($hi0 - $lo0) * 1.15 &gt; 0"><xsl:value-of select="($hi0 - $lo0) * 1.15"/></xsl:when>
        <xsl:otherwise>1</xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="xv" select="round(($value - $lo0) div $span * $w)"/>
    <xsl:variable name="xp" select="round(($projection - $lo0) div $span * $w)"/>
    <xsl:variable name="xt" select="round(($target - $lo0) div $span * $w)"/>
    <xsl:variable name="x0" select="round((0 - $lo0) div $span * $w)"/>
    <svg xmlns="http://www.w3.org/2000/svg" class="bar" width="{$w + 2}" height="30"
         viewBox="0 0 {$w + 2} 30" role="img">
      <rect x="1" y="6" width="{$w}" height="18" rx="3" class="track"/>
      <xsl:if test="$xp &gt; $xv">
        <rect x="{1 + $xv}" y="6" width="{$xp - $xv}" height="18" class="proj {$status}"/>
      </xsl:if>
      <xsl:if test="$xv != $x0">
        <rect y="6" height="18" class="fill {$status}">
          <xsl:attribute name="x"><xsl:value-of select="1 + $x0 - ($x0 - $xv) * number($xv &lt; $x0)"/></xsl:attribute>
          <xsl:attribute name="width"><xsl:value-of select="($xv - $x0) * (1 - 2 * number($xv &lt; $x0))"/></xsl:attribute>
        </rect>
      </xsl:if>
      <line x1="{1 + $xt}" x2="{1 + $xt}" y1="1" y2="29" class="target"/>
    </svg>
  </xsl:template>

  <!-- ===== key figures ===== -->

  <xsl:template name="tile">
    <xsl:param name="k"/>
    <xsl:param name="v"/>
    <xsl:param name="of" select="''"/>
    <div class="tile">
      <span class="big"><xsl:call-template name="num"><xsl:with-param name="v" select="$v"/></xsl:call-template></span>
      <xsl:if test="string($of) != ''">
        <span class="of"><xsl:value-of select="concat(' / ', $of)"/></span>
      </xsl:if>
      <br/>
      <span class="lbl"><xsl:call-template name="t"><xsl:with-param name="k" select="$k"/></xsl:call-template></span>
    </div>
  </xsl:template>

  <xsl:template name="figures">
    <section class="figures">
      <h2><xsl:call-template name="t"><xsl:with-param name="k" select="'h.figures'"/></xsl:call-template></h2>
      <div class="tiles">
        <xsl:call-template name="tile">
          <xsl:with-param name="k" select="'ind.trajectories_started'"/>
          <xsl:with-param name="v" select="$ind/r:trajectories_started"/>
          <xsl:with-param name="of" select="string(r:grant/r:target_trajectories)"/>
        </xsl:call-template>
        <xsl:call-template name="tile"><xsl:with-param name="k" select="'ind.trajectories_helped'"/><xsl:with-param name="v" select="$ind/r:trajectories_helped"/></xsl:call-template>
        <xsl:call-template name="tile"><xsl:with-param name="k" select="'ind.children_helped'"/><xsl:with-param name="v" select="$ind/r:children_helped"/></xsl:call-template>
        <xsl:call-template name="tile"><xsl:with-param name="k" select="'ind.trajectories_closed'"/><xsl:with-param name="v" select="$ind/r:trajectories_closed"/></xsl:call-template>
        <xsl:call-template name="tile"><xsl:with-param name="k" select="'ind.trajectories_active'"/><xsl:with-param name="v" select="$ind/r:trajectories_active"/></xsl:call-template>
        <xsl:call-template name="tile"><xsl:with-param name="k" select="'ind.indications_avoided'"/><xsl:with-param name="v" select="$ind/r:indications_avoided"/></xsl:call-template>
      </div>
    </section>
  </xsl:template>

  <!-- ===== the cumulative series as lines ===== -->

  <xsl:template name="series">
    <xsl:variable name="pts" select="r:series/r:point"/>
    <xsl:variable name="n" select="count($pts)"/>
    <xsl:variable name="maxv">
      <xsl:call-template name="max">
        <xsl:with-param name="nodes" select="$pts/r:trajectories_started | $pts/r:trajectories_helped | $pts/r:trajectories_closed | $pts/r:children_helped | r:grant/r:target_trajectories"/>
      </xsl:call-template>
    </xsl:variable>
    <xsl:variable name="step"><xsl:call-template name="step"><xsl:with-param name="max" select="$maxv"/></xsl:call-template></xsl:variable>
    <xsl:variable name="top" select="$step * (floor($maxv div $step) + 1)"/>
    <xsl:variable name="x0" select="46"/>
    <xsl:variable name="pw" select="600"/>
    <xsl:variable name="y0" select="214"/>
    <xsl:variable name="ph" select="200"/>
    <xsl:variable name="dx">
      <xsl:choose>
        <xsl:when test="$n &gt; 1"><xsl:value-of select="$pw div ($n - 1)"/></xsl:when>
        <xsl:otherwise>0</xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="every" select="ceiling($n div 12)"/>
    <section class="series">
      <h2><xsl:call-template name="t"><xsl:with-param name="k" select="'h.series'"/></xsl:call-template></h2>
      <svg xmlns="http://www.w3.org/2000/svg" class="chart" width="680" height="240" viewBox="0 0 680 240" role="img">
        <!-- horizontal grid with labels -->
        <xsl:call-template name="grid">
          <xsl:with-param name="v" select="0"/>
          <xsl:with-param name="step" select="$step"/>
          <xsl:with-param name="top" select="$top"/>
          <xsl:with-param name="x0" select="$x0"/>
          <xsl:with-param name="pw" select="$pw"/>
          <xsl:with-param name="y0" select="$y0"/>
          <xsl:with-param name="ph" select="$ph"/>
        </xsl:call-template>
        <!-- the target of trajectories -->
        <xsl:variable name="ty" select="$y0 - r:grant/r:target_trajectories div $top * $ph"/>
        <line x1="{$x0}" x2="{$x0 + $pw}" y1="{$ty}" y2="{$ty}" class="goal"/>
        <text x="{$x0 + 4}" y="{$ty - 4}" class="goal-label" text-anchor="start">
          <xsl:call-template name="t"><xsl:with-param name="k" select="'series.target'"/></xsl:call-template>
          <xsl:value-of select="concat(' ', r:grant/r:target_trajectories)"/>
        </text>
        <!-- x labels -->
        <xsl:for-each select="$pts">
          <xsl:variable name="i" select="position() - 1"/>
          <xsl:if test="$i mod $every = 0 or position() = last()">
            <text x="{$x0 + $i * $dx}" y="{$y0 + 16}" class="axis" text-anchor="middle">
              <xsl:value-of select="concat($dict/month[@n = number(substring(current()/r:date, 6, 2))]/abbr/*[local-name() = $L], ' ', substring(r:date, 3, 2))"/>
            </text>
          </xsl:if>
        </xsl:for-each>
        <xsl:for-each select="$dict/series/field">
          <xsl:variable name="f" select="@name"/>
          <xsl:variable name="line">
            <xsl:for-each select="$pts">
              <xsl:variable name="v" select="*[local-name() = $f]"/>
              <xsl:if test="string(number($v)) != 'NaN'">
                <xsl:value-of select="concat(round(($x0 + (position() - 1) * $dx) * 10) div 10, ',', round(($y0 - $v div $top * $ph) * 10) div 10, ' ')"/>
              </xsl:if>
            </xsl:for-each>
          </xsl:variable>
          <polyline points="{normalize-space($line)}" class="line {$f}"/>
          <xsl:for-each select="$pts">
            <xsl:variable name="v" select="*[local-name() = $f]"/>
            <xsl:if test="string(number($v)) != 'NaN' and ($n &lt;= 24 or position() = last())">
              <circle cx="{round(($x0 + (position() - 1) * $dx) * 10) div 10}" cy="{round(($y0 - $v div $top * $ph) * 10) div 10}" r="2.5" class="dot {$f}"/>
            </xsl:if>
          </xsl:for-each>
        </xsl:for-each>
        <line x1="{$x0}" x2="{$x0 + $pw}" y1="{$y0}" y2="{$y0}" class="axis-line"/>
      </svg>
      <p class="legend">
        <xsl:for-each select="$dict/series/field">
          <span class="key {@name}">━━</span>
          <xsl:text> </xsl:text>
          <xsl:call-template name="t"><xsl:with-param name="k" select="concat('ind.', @name)"/></xsl:call-template>
          <xsl:text>    </xsl:text>
        </xsl:for-each>
      </p>
      <xsl:if test="$public">
        <p class="small"><xsl:call-template name="t"><xsl:with-param name="k" select="'series.public'"/></xsl:call-template></p>
      </xsl:if>
    </section>
  </xsl:template>

  <xsl:template name="grid">
    <xsl:param name="v"/>
    <xsl:param name="step"/>
    <xsl:param name="top"/>
    <xsl:param name="x0"/>
    <xsl:param name="pw"/>
    <xsl:param name="y0"/>
    <xsl:param name="ph"/>
    <xsl:if test="$v &lt;= $top">
      <xsl:variable name="y" select="$y0 - $v div $top * $ph"/>
      <line xmlns="http://www.w3.org/2000/svg" x1="{$x0}" x2="{$x0 + $pw}" y1="{$y}" y2="{$y}" class="grid"/>
      <text xmlns="http://www.w3.org/2000/svg" x="{$x0 - 6}" y="{$y + 4}" class="axis" text-anchor="end"><xsl:value-of select="$v"/></text>
      <xsl:call-template name="grid">
        <xsl:with-param name="v" select="$v + $step"/>
        <xsl:with-param name="step" select="$step"/>
        <xsl:with-param name="top" select="$top"/>
        <xsl:with-param name="x0" select="$x0"/>
        <xsl:with-param name="pw" select="$pw"/>
        <xsl:with-param name="y0" select="$y0"/>
        <xsl:with-param name="ph" select="$ph"/>
      </xsl:call-template>
    </xsl:if>
  </xsl:template>

  <!-- ===== the budget ===== -->

  <xsl:template name="budget">
    <xsl:variable name="g" select="r:grant/r:amount_granted"/>
    <xsl:variable name="rows" select="$g | $ind/r:amount_committed | $ind/r:amount_settled | $ind/r:costs_total"/>
    <xsl:variable name="maxv"><xsl:call-template name="max"><xsl:with-param name="nodes" select="$rows"/></xsl:call-template></xsl:variable>
    <xsl:variable name="scale">
      <xsl:choose>
        <xsl:when test="$maxv &gt; 0"><xsl:value-of select="$maxv"/></xsl:when>
        <xsl:otherwise>1</xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <section class="budget">
      <h2><xsl:call-template name="t"><xsl:with-param name="k" select="'h.budget'"/></xsl:call-template></h2>
      <table class="bars">
        <xsl:call-template name="budget-row"><xsl:with-param name="k" select="'budget.granted'"/><xsl:with-param name="v" select="$g"/><xsl:with-param name="scale" select="$scale"/></xsl:call-template>
        <xsl:call-template name="budget-row"><xsl:with-param name="k" select="'budget.committed'"/><xsl:with-param name="v" select="$ind/r:amount_committed"/><xsl:with-param name="scale" select="$scale"/></xsl:call-template>
        <xsl:call-template name="budget-row"><xsl:with-param name="k" select="'budget.settled'"/><xsl:with-param name="v" select="$ind/r:amount_settled"/><xsl:with-param name="scale" select="$scale"/></xsl:call-template>
        <xsl:call-template name="budget-row"><xsl:with-param name="k" select="'budget.spent'"/><xsl:with-param name="v" select="$ind/r:costs_total"/><xsl:with-param name="scale" select="$scale"/></xsl:call-template>
        <tr>
          <th><xsl:call-template name="t"><xsl:with-param name="k" select="'ind.budget_remaining'"/></xsl:call-template></th>
          <td class="small"><xsl:call-template name="t"><xsl:with-param name="k" select="'budget.remaining.note'"/></xsl:call-template></td>
          <td class="num"><xsl:call-template name="money"><xsl:with-param name="v" select="$ind/r:budget_remaining"/></xsl:call-template></td>
        </tr>
      </table>
    </section>
  </xsl:template>

  <xsl:template name="budget-row">
    <xsl:param name="k"/>
    <xsl:param name="v"/>
    <xsl:param name="scale"/>
    <xsl:variable name="g" select="$doc/r:grant/r:amount_granted"/>
    <tr>
      <th><xsl:call-template name="t"><xsl:with-param name="k" select="$k"/></xsl:call-template></th>
      <td class="barcell">
        <svg xmlns="http://www.w3.org/2000/svg" width="382" height="22" viewBox="0 0 382 22" role="img">
          <rect x="1" y="3" width="380" height="16" rx="3" class="track"/>
          <xsl:if test="string(number($v)) != 'NaN' and number($v) &gt; 0">
            <rect x="1" y="3" height="16" rx="3" class="b-{local-name($v)}">
              <xsl:attribute name="width"><xsl:value-of select="round(number($v) div $scale * 380 * 10) div 10"/></xsl:attribute>
            </rect>
          </xsl:if>
          <xsl:if test="local-name($v) != 'amount_granted' and number($g) &gt; 0">
            <line x1="{1 + round(number($g) div $scale * 380)}" x2="{1 + round(number($g) div $scale * 380)}" y1="0" y2="22" class="target"/>
          </xsl:if>
        </svg>
      </td>
      <td class="num"><xsl:call-template name="money"><xsl:with-param name="v" select="$v"/></xsl:call-template></td>
    </tr>
  </xsl:template>

  <!-- ===== days to help against the baseline ===== -->

  <xsl:template name="speed">
    <xsl:variable name="base" select="r:baseline/r:days_to_help"/>
    <xsl:variable name="rows" select="$ind/r:median_days_to_help | $ind/r:p90_days_to_help | $base"/>
    <xsl:variable name="maxv"><xsl:call-template name="max"><xsl:with-param name="nodes" select="$rows"/></xsl:call-template></xsl:variable>
    <xsl:variable name="scale">
      <xsl:choose>
        <xsl:when test="$maxv &gt; 0"><xsl:value-of select="$maxv * 1.1"/></xsl:when>
        <xsl:otherwise>1</xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <section class="speed">
      <h2><xsl:call-template name="t"><xsl:with-param name="k" select="'h.speed'"/></xsl:call-template></h2>
      <table class="bars">
        <xsl:for-each select="$rows">
          <tr>
            <th>
              <xsl:call-template name="t">
                <xsl:with-param name="k" select="concat('speed.', local-name())"/>
              </xsl:call-template>
            </th>
            <td class="barcell">
              <svg xmlns="http://www.w3.org/2000/svg" width="382" height="22" viewBox="0 0 382 22" role="img">
                <rect x="1" y="3" width="380" height="16" rx="3" class="track"/>
                <xsl:if test="string(number(.)) != 'NaN' and number(.) &gt; 0">
                  <rect x="1" y="3" height="16" rx="3" class="d-{local-name()}">
                    <xsl:attribute name="width"><xsl:value-of select="round(number(.) div $scale * 380 * 10) div 10"/></xsl:attribute>
                  </rect>
                </xsl:if>
              </svg>
            </td>
            <td class="num"><xsl:call-template name="value-of-kind"><xsl:with-param name="name" select="'days'"/><xsl:with-param name="v" select="."/></xsl:call-template></td>
          </tr>
        </xsl:for-each>
      </table>
      <xsl:if test="not($base)">
        <p class="small"><xsl:call-template name="t"><xsl:with-param name="k" select="'speed.nobaseline'"/></xsl:call-template></p>
      </xsl:if>
    </section>
  </xsl:template>

  <!-- ===== data quality ===== -->

  <xsl:template name="quality">
    <xsl:variable name="q" select="$ind/r:data_quality/*[string(.) != '0']"/>
    <section class="quality">
      <h2><xsl:call-template name="t"><xsl:with-param name="k" select="'h.quality'"/></xsl:call-template></h2>
      <xsl:choose>
        <xsl:when test="not($q)">
          <p class="ok"><xsl:call-template name="t"><xsl:with-param name="k" select="'quality.none'"/></xsl:call-template></p>
        </xsl:when>
        <xsl:otherwise>
          <ul class="warnings">
            <xsl:for-each select="$q">
              <li>
                <strong><xsl:call-template name="num"><xsl:with-param name="v" select="."/></xsl:call-template></strong>
                <xsl:text> </xsl:text>
                <xsl:call-template name="t"><xsl:with-param name="k" select="concat('quality.', local-name())"/></xsl:call-template>
              </li>
            </xsl:for-each>
          </ul>
        </xsl:otherwise>
      </xsl:choose>
    </section>
  </xsl:template>

  <!-- ===== the determination request ===== -->

  <xsl:template name="financial">
    <xsl:variable name="d" select="r:determination"/>
    <section class="financial">
      <h2><xsl:call-template name="t"><xsl:with-param name="k" select="'h.financial'"/></xsl:call-template></h2>
      <table class="fin">
        <tr>
          <th><xsl:call-template name="t"><xsl:with-param name="k" select="'det.trajectories_realised'"/></xsl:call-template></th>
          <td class="num"><xsl:call-template name="num"><xsl:with-param name="v" select="$d/r:trajectories_realised"/></xsl:call-template></td>
        </tr>
        <xsl:for-each select="$d/r:amount_granted | $d/r:amount_committed | $d/r:amount_settled | $d/r:costs_total | $d/r:amount_determined | $d/r:amount_difference">
          <tr>
            <xsl:if test="local-name() = 'amount_determined'"><xsl:attribute name="class">total</xsl:attribute></xsl:if>
            <th><xsl:call-template name="t"><xsl:with-param name="k" select="concat('det.', local-name())"/></xsl:call-template></th>
            <td class="num"><xsl:call-template name="money"><xsl:with-param name="v" select="."/></xsl:call-template></td>
          </tr>
        </xsl:for-each>
      </table>
      <p class="small"><xsl:call-template name="t"><xsl:with-param name="k" select="'det.rule'"/></xsl:call-template></p>
    </section>
  </xsl:template>

  <xsl:template name="settlement">
    <xsl:variable name="lines" select="r:determination/r:settlement/r:line"/>
    <section class="settlement">
      <h2><xsl:call-template name="t"><xsl:with-param name="k" select="'h.settlement'"/></xsl:call-template></h2>
      <table class="list">
        <thead>
          <tr>
            <xsl:for-each select="$dict/settlement/col">
              <th><xsl:call-template name="t"><xsl:with-param name="k" select="concat('set.', @name)"/></xsl:call-template></th>
            </xsl:for-each>
          </tr>
        </thead>
        <tbody>
          <xsl:for-each select="$lines">
            <tr>
              <xsl:if test="r:realised = 'false'"><xsl:attribute name="class">notrealised</xsl:attribute></xsl:if>
              <td><xsl:value-of select="r:reference"/></td>
              <td><xsl:call-template name="date"><xsl:with-param name="d" select="r:registered"/><xsl:with-param name="short" select="true()"/></xsl:call-template></td>
              <td>
                <xsl:choose>
                  <xsl:when test="r:closed/text()"><xsl:call-template name="date"><xsl:with-param name="d" select="r:closed"/><xsl:with-param name="short" select="true()"/></xsl:call-template></xsl:when>
                  <xsl:otherwise>–</xsl:otherwise>
                </xsl:choose>
              </td>
              <td>
                <xsl:choose>
                  <xsl:when test="r:closing_reason/text()"><xsl:call-template name="t"><xsl:with-param name="k" select="concat('reason.', r:closing_reason)"/></xsl:call-template></xsl:when>
                  <xsl:otherwise>–</xsl:otherwise>
                </xsl:choose>
              </td>
              <td class="num"><xsl:call-template name="money"><xsl:with-param name="v" select="r:amount"/></xsl:call-template></td>
              <td class="num"><xsl:call-template name="money"><xsl:with-param name="v" select="r:costs_total"/></xsl:call-template></td>
              <td><xsl:call-template name="t"><xsl:with-param name="k" select="concat('bool.', r:realised)"/></xsl:call-template></td>
            </tr>
          </xsl:for-each>
        </tbody>
        <tfoot>
          <tr>
            <th colspan="4">
              <xsl:value-of select="concat(count($lines), ' ')"/>
              <xsl:call-template name="t"><xsl:with-param name="k" select="'unit.trajectories'"/></xsl:call-template>
              <xsl:value-of select="concat(', ', count($lines[r:realised = 'true']), ' ')"/>
              <xsl:call-template name="t"><xsl:with-param name="k" select="'set.realised.count'"/></xsl:call-template>
            </th>
            <td class="num"><xsl:call-template name="money"><xsl:with-param name="v" select="r:determination/r:amount_committed"/></xsl:call-template></td>
            <td class="num"><xsl:call-template name="money"><xsl:with-param name="v" select="r:determination/r:costs_total"/></xsl:call-template></td>
            <td>–</td>
          </tr>
        </tfoot>
      </table>
    </section>
  </xsl:template>

  <!-- ===== every indicator, beside its baseline ===== -->

  <xsl:template name="all-indicators">
    <section class="indicators">
      <h2><xsl:call-template name="t"><xsl:with-param name="k" select="'h.indicators'"/></xsl:call-template></h2>
      <table class="list">
        <thead>
          <tr>
            <th><xsl:call-template name="t"><xsl:with-param name="k" select="'col.indicator'"/></xsl:call-template></th>
            <th class="num"><xsl:call-template name="t"><xsl:with-param name="k" select="'col.value'"/></xsl:call-template></th>
            <th class="num"><xsl:call-template name="t"><xsl:with-param name="k" select="'col.baseline'"/></xsl:call-template></th>
          </tr>
        </thead>
        <tbody>
          <xsl:for-each select="$ind/*">
            <xsl:choose>
              <xsl:when test="local-name() = 'closed_by_reason' or local-name() = 'data_quality'">
                <xsl:variable name="group" select="local-name()"/>
                <xsl:for-each select="*">
                  <tr>
                    <td class="sub">
                      <xsl:call-template name="t"><xsl:with-param name="k" select="concat('ind.', $group)"/></xsl:call-template>
                      <xsl:text>: </xsl:text>
                      <xsl:choose>
                        <xsl:when test="$group = 'data_quality'"><xsl:call-template name="t"><xsl:with-param name="k" select="concat('quality.', local-name())"/></xsl:call-template></xsl:when>
                        <xsl:otherwise><xsl:call-template name="t"><xsl:with-param name="k" select="concat('reason.', local-name())"/></xsl:call-template></xsl:otherwise>
                      </xsl:choose>
                    </td>
                    <td class="num"><xsl:call-template name="num"><xsl:with-param name="v" select="."/></xsl:call-template></td>
                    <td class="num">–</td>
                  </tr>
                </xsl:for-each>
              </xsl:when>
              <xsl:otherwise>
                <xsl:variable name="name" select="local-name()"/>
                <xsl:variable name="b">
                  <xsl:choose>
                    <xsl:when test="$name = 'cost_per_child_helped'">cost_per_child</xsl:when>
                    <xsl:when test="$name = 'median_days_to_help'">days_to_help</xsl:when>
                  </xsl:choose>
                </xsl:variable>
                <tr>
                  <td><xsl:call-template name="t"><xsl:with-param name="k" select="concat('ind.', $name)"/></xsl:call-template></td>
                  <td class="num"><xsl:call-template name="value-of-kind"><xsl:with-param name="name" select="$name"/><xsl:with-param name="v" select="."/></xsl:call-template></td>
                  <td class="num">
                    <xsl:choose>
                      <xsl:when test="$b != '' and $doc/r:baseline/*[local-name() = $b]/text()">
                        <xsl:call-template name="value-of-kind"><xsl:with-param name="name" select="$name"/><xsl:with-param name="v" select="$doc/r:baseline/*[local-name() = $b]"/></xsl:call-template>
                      </xsl:when>
                      <xsl:otherwise>–</xsl:otherwise>
                    </xsl:choose>
                  </td>
                </tr>
              </xsl:otherwise>
            </xsl:choose>
          </xsl:for-each>
        </tbody>
      </table>
      <xsl:if test="r:baseline/r:indication_rate/text()">
        <p class="small">
          <xsl:call-template name="t"><xsl:with-param name="k" select="'baseline.indication_rate'"/></xsl:call-template>
          <xsl:text> </xsl:text>
          <xsl:call-template name="pct"><xsl:with-param name="v" select="r:baseline/r:indication_rate"/></xsl:call-template>
        </p>
      </xsl:if>
    </section>
  </xsl:template>
</xsl:stylesheet>
