// Names of languages for people: "Spanish", or "Spanish · español (es)" in the pickers. From the browser's
// Intl.DisplayNames; a code Intl does not know is shown as the code.

function displayNames(locale) {
  try {
    return new Intl.DisplayNames([locale], { type: "language" });
  } catch {
    return null;
  }
}

const englishNames = displayNames("en");

export function languageName(code) {
  try {
    const name = englishNames && englishNames.of(code);
    if (name && name !== code) return name;
  } catch {
    /* not a code Intl knows */
  }
  return code;
}

export function languageLabel(code) {
  const english = languageName(code);
  let own = null;
  try {
    own = displayNames(code)?.of(code);
  } catch {
    own = null;
  }
  const both = own && own !== code && own.toLowerCase() !== english.toLowerCase() ? `${english} · ${own}` : english;
  return `${both} (${code})`;
}
