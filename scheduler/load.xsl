<?xml version="1.0" encoding="UTF-8"?>
<!--
  load.xsl: tuneslot's load report for Icecast 2.4.

  Copy it into Icecast's web root (<webroot> in icecast.xml) and point a
  tuneslotd backend at http://HOST:PORT/load.xsl with format = "load-xsl".
  Icecast renders it against its stats tree and answers with one <mount>
  per mount that has a source:

    <load>
      <mount name="/demo" listeners="3" max="100">97</mount>
      <mount name="/talk" listeners="5" max="unlimited">unlimited</mount>
    </load>

  The element's text is the number of free listener slots (0 when the mount
  is full or over its limit), or "unlimited" when the mount has no
  <max-listeners>.  listeners and max are copied from Icecast's
  <listeners> and <max_listeners>.  Mounts marked <hidden> are not in the
  public stats tree and so not in this report; poll /admin/stats
  (format = "icecast-admin") for those.
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="xml" media-type="text/xml" encoding="UTF-8" indent="yes"/>

  <xsl:template match="/">
    <load>
      <xsl:for-each select="icestats/source">
        <mount name="{@mount}" listeners="{listeners}" max="{max_listeners}">
          <xsl:choose>
            <xsl:when test="string(number(max_listeners)) = 'NaN'">unlimited</xsl:when>
            <xsl:when test="number(listeners) &gt;= number(max_listeners)">0</xsl:when>
            <xsl:otherwise>
              <xsl:value-of select="format-number(max_listeners - listeners, '0')"/>
            </xsl:otherwise>
          </xsl:choose>
        </mount>
      </xsl:for-each>
    </load>
  </xsl:template>
</xsl:stylesheet>
