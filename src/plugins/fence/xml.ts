const XML_REFS: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  '\n': '&#10;',
  '\r': '&#13;',
  '\t': '&#9;',
};

/** Text as it stands in an XML attribute value or element: `&`, `<`, `>`, `"` and line breaks become references. */
export const escapeXml = (s: string): string => s.replace(/[&<>"\n\r\t]/g, (c) => XML_REFS[c]!);
