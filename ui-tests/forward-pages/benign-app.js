// A classic script of the benign app: the results list it reports into.
window.report = (name, value) => {
  const add = () => {
    const list = document.getElementById('results');
    const term = document.createElement('dt');
    term.textContent = name;
    const desc = document.createElement('dd');
    desc.textContent = value;
    desc.setAttribute('data-check', name);
    list.append(term, desc);
  };
  if (document.getElementById('results')) {
    add();
  } else {
    document.addEventListener('DOMContentLoaded', add);
  }
};
report('classic script', 'ran');
