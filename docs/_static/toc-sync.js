/*
 * Keep the page's "On this page" contents on the section being read.
 *
 * The pydata theme moves the highlight only when a heading crosses the top
 * 30% of the window, so while scrolling back up through a section longer than
 * that it keeps the section below highlighted. After each scroll this
 * highlights the last heading above that line instead. A link followed to a
 * heading keeps its highlight until the reader scrolls again (as the theme's).
 */
document.addEventListener("DOMContentLoaded", () => {
  const toc = document.querySelector("#pst-page-toc-nav");
  if (!toc) {
    return;
  }
  const links = Array.from(toc.querySelectorAll("a.nav-link")).filter((link) => link.hash.length > 1);
  const headings = links.map((link) => {
    const target = document.getElementById(decodeURIComponent(link.hash.slice(1)));
    return target && (target.querySelector("h1, h2, h3, h4, h5, h6") || target);
  });
  if (!headings.some(Boolean)) {
    return;
  }

  let followedLink = window.location.hash.length > 1; // the theme highlights its target
  window.addEventListener("hashchange", () => {
    followedLink = true;
  });
  document.addEventListener("click", (event) => {
    if (event.target.closest('a[href^="#"]')) {
      followedLink = true;
    }
  });
  ["wheel", "touchstart", "keydown", "mousedown"].forEach((type) =>
    window.addEventListener(type, () => {
      followedLink = false;
    }, { passive: true }),
  );

  function activate(link) {
    links.forEach((other) => {
      other.classList.toggle("active", other === link);
      if (other === link) {
        other.setAttribute("aria-current", "true");
      } else {
        other.removeAttribute("aria-current");
      }
    });
    toc.querySelectorAll(".toc-entry").forEach((entry) => {
      entry.classList.toggle("active", entry.contains(link));
    });
  }

  function sync() {
    if (followedLink) {
      return;
    }
    const line = 0.3 * window.innerHeight; // the theme's: the top 30% of the window
    let current = null;
    headings.forEach((heading, i) => {
      if (heading && heading.getBoundingClientRect().top <= line) {
        current = i;
      }
    });
    if (current !== null) {
      activate(links[current]);
    }
  }

  // After the theme's own update for the same scroll, which runs in between.
  let timer;
  window.addEventListener("scroll", () => {
    clearTimeout(timer);
    timer = setTimeout(sync, 50);
  }, { passive: true });
});
